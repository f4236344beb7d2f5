package verify

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/mailverify/mailverify/mx"
)

// behaviour is how one mail host answers.
type behaviour int

const (
	strict        behaviour = iota // 250 for mailboxes, 550 5.1.1 for the rest
	strictVague                    // 250 for mailboxes, "550 Rejected" for the rest
	catchAllHost                   // 250 for everyone
	policyAll                      // "550 Rejected" for everyone
	blockAll                       // 554 5.7.1 for everyone
	greylisting                    // 450 4.2.0 until a delay has passed, then strict or catch-all
	rcptLimit                      // strict, but refuses recipients past a per-transaction limit
	firstRcptOnly                  // strict for the first RCPT of a connection, 452 4.5.3 after
	rateLimited                    // strict for the first N RCPTs, then 450 4.7.1
	brokenPipe                     // strict, reads one command per packet
	extraReply                     // strict, with a stray extra reply after some answers
	dropper                        // strict, drops the connection on some RCPTs
	slow                           // strict, each reply delayed
	flakyMail                      // strict, but some MAIL get 451 and some RSET 502
	closer                         // strict, then 421 and a close after N RCPTs of a connection
	resetter                       // strict, resets the connection halfway through some replies
	earlyTalker                    // strict, with a stray reply after the EHLO reply
	dripper                        // strict, some replies a byte at a time
	confused                       // strict, but some RCPTs get "503 need MAIL" as if the transaction were lost
	refused                        // nothing listens
	bannerRefused                  // greets with 554 5.7.1 (our address is blocked)
	bannerBusy                     // greets with 421 4.7.0 (too many connections)

	// Behaviours that change with the conversation (issue #22).

	connCapVague  // honest (strict, strict-vague or catch-all), "550 Rejected" from the Nth RCPT of a connection on
	harvest       // strict or strict-vague, "550 Rejected" to everyone after N unknown recipients, for a while or forever
	softLimit     // honest (strict or strict-vague) for the client's first N RCPTs, then 250 for everyone
	probeGreylist // 450 4.2.0 for recipients that are not mailboxes until a delay passed, honest otherwise
	banning       // honest (strict or strict-vague) for the client's first N RCPTs, then bans it: block texts at MAIL and every RCPT, some coded 5.1.1 (or, partly, at every other RCPT) (issue 29)
	behaviours
)

// firstConversational is the first behaviour that changes with the
// conversation; genHost favours those.
const firstConversational = connCapVague

var behaviourNames = [...]string{"strict", "strict-vague", "catch-all", "policy-all", "block-all", "greylisting",
	"rcpt-limit", "first-rcpt-only", "rate-limited", "broken-pipelining", "extra-reply", "dropper", "slow",
	"flaky-mail", "closer", "resetter", "early-talker", "dripper", "confused", "refused", "banner-refused",
	"banner-busy", "conn-cap-vague", "harvest", "soft-limit", "probe-greylist", "banning"}

// hostSpec is one generated mail host.
type hostSpec struct {
	b        behaviour
	after    behaviour     // greylisting, probe-greylist: what it does once the delay passed; conn-cap-vague, harvest, soft-limit: the honest part
	delay    time.Duration // greylisting delay or reply delay
	limit    int           // recipient limit, RCPTs before rate limiting, cap, unknown recipients before harvest protection
	permLim  bool          // the recipient limit is answered with 5xx
	greyText string
	perConn  bool          // harvest: count unknown recipients per connection (and block the rest of it)
	block    time.Duration // harvest across connections: how long it lasts; zero: forever
	perTx    bool          // conn-cap-vague: the cap counts per transaction (our RSET starts it over)
	scope    int           // soft-limit: what it counts, see softScopes
}

func (h hostSpec) String() string {
	s := behaviourNames[h.b]
	switch h.b {
	case greylisting, probeGreylist:
		s += fmt.Sprintf("(then %s after %v, %q)", behaviourNames[h.after], h.delay, h.greyText)
	case connCapVague:
		scope := "connection"
		if h.perTx {
			scope = "transaction"
		}
		s += fmt.Sprintf("(%s, 550 Rejected from RCPT #%d of a %s)", behaviourNames[h.after], h.limit, scope)
	case harvest:
		scope := "from this client"
		if h.perConn {
			scope = "on one connection, for the rest of it"
		} else if h.block > 0 {
			scope += fmt.Sprintf(", for %v", h.block)
		} else {
			scope += ", forever"
		}
		s += fmt.Sprintf("(%s, 550 Rejected to all after %d unknown %s)", behaviourNames[h.after], h.limit, scope)
	case softLimit:
		s += fmt.Sprintf("(%s for the first %d RCPTs %s, then 250 for all)", behaviourNames[h.after], h.limit, softScopes[h.scope])
	case banning:
		s += fmt.Sprintf("(%s for the first %d RCPTs, then banned, fully %v)", behaviourNames[h.after], h.limit, h.permLim)
	case slow:
		s += fmt.Sprintf("(%v)", h.delay)
	case rcptLimit:
		s += fmt.Sprintf("(%d, perm %v)", h.limit, h.permLim)
	case rateLimited, closer:
		s += fmt.Sprintf("(%d)", h.limit)
	}
	return s
}

// soundWorld is a generated world with its truth.
type soundWorld struct {
	*world
	exists map[string]bool // address -> mailbox exists
	addrs  []string
	desc   []string
	budget time.Duration
	hang   map[string]bool // names the resolver never answers for
}

// resolver is the world's resolver: the map, and silence for the names
// in hang.
func (sw *soundWorld) resolver() mx.Resolver {
	if len(sw.hang) == 0 {
		return sw.res
	}
	return &hangingResolver{Resolver: sw.res, hang: sw.hang}
}

// dnsHangs reports whether looking up the domain of address a may ask a
// name that never answers (its MX, one of its hosts, or the canary).
func (sw *soundWorld) dnsHangs(a string) bool {
	_, domain, _ := strings.Cut(a, "@")
	if sw.hang[domain] || sw.hang["gmail.com"] {
		return true
	}
	for _, m := range sw.res.MX[domain] {
		if sw.hang[m.Host] {
			return true
		}
	}
	return false
}

// poolHost is a generated mail host, which may serve several domains (as
// Workspace or Microsoft 365 hosts do): its server knows the mailboxes of
// every domain it serves.
type poolHost struct {
	name  string
	addr  netip.Addr
	known map[string]bool
}

func genWorld(seed uint64) *soundWorld {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	sw := &soundWorld{world: newWorld(), exists: map[string]bool{}, hang: map[string]bool{}}
	// The canary, so that NXDOMAIN is believed.
	sw.res.MX["gmail.com"] = []*net.MX{{Host: "gmail-smtp-in.l.google.com", Pref: 5}}
	sw.res.IP["gmail-smtp-in.l.google.com"] = []netip.Addr{netip.MustParseAddr("127.9.9.9")}
	var pool []poolHost
	newHost := func(h int, spec hostSpec) poolHost {
		ph := poolHost{name: fmt.Sprintf("mx%d.hosting%d.net", h, len(pool)), addr: netip.AddrFrom4([4]byte{127, 0, 3, byte(len(pool) + 1)}), known: map[string]bool{}}
		pool = append(pool, ph)
		sw.res.IP[ph.name] = []netip.Addr{ph.addr}
		if spec.b != refused {
			srv := spec.server(ph.known)
			if rng.IntN(2) == 0 {
				// A simulated network buffers what a bare net.Pipe would
				// block on, as TCP does.
				srv.Latency = time.Duration(1+rng.IntN(20)) * time.Millisecond
			}
			sw.router[netip.AddrPortFrom(ph.addr, 25).String()] = srv
		}
		sw.desc = append(sw.desc, fmt.Sprintf("%s: %v", ph.name, spec))
		return ph
	}
	// Most worlds are small; one in ten is larger, to exercise sharing,
	// parking and the window under load.
	maxDomains, maxAddrs, maxUsers := 5, 12, 8
	if rng.IntN(10) == 0 {
		maxDomains, maxAddrs, maxUsers = 15, 40, 30
	}
	// How often a domain's host is one that already serves others: 2-4
	// domains on one host is common in some worlds, the rule in others.
	share := []int{2, 3, 4}[rng.IntN(3)] // out of 4
	for d := range 1 + rng.IntN(maxDomains) {
		domain := fmt.Sprintf("dom%d.com", d)
		mailboxes := map[string]bool{}
		for i := range 1 + rng.IntN(maxUsers/2+1) {
			mailboxes[fmt.Sprintf("user%d@%s", i, domain)] = true
		}
		if rng.IntN(8) == 0 { // a domain that does not exist
			domain = fmt.Sprintf("nxdom%d.com", d)
			mailboxes = nil
		} else {
			var hosts []poolHost
			nHosts := 1 + rng.IntN(3)
			if rng.IntN(3) == 0 {
				// Rerouting: the first host refuses, blocks or limits us,
				// a later one answers.
				nHosts = 2 + rng.IntN(2)
				hosts = append(hosts, newHost(0, hostSpec{b: []behaviour{refused, bannerRefused, bannerBusy, blockAll, rateLimited}[rng.IntN(5)]}))
			}
			for h := len(hosts); h < nHosts; h++ {
				var ph poolHost
				if len(pool) > 0 && rng.IntN(4) < share {
					ph = pool[rng.IntN(len(pool))]
				}
				if ph.name == "" || slices.ContainsFunc(hosts, func(o poolHost) bool { return o.name == ph.name }) {
					ph = newHost(h, genHost(rng))
				}
				hosts = append(hosts, ph)
			}
			for h, ph := range hosts {
				for a := range mailboxes {
					ph.known[a] = true
				}
				sw.res.MX[domain] = append(sw.res.MX[domain], &net.MX{Host: ph.name, Pref: uint16(10 * (1 + h - h%2))})
			}
			sw.desc = append(sw.desc, fmt.Sprintf("%s: MX %v", domain, mxNames(sw.res.MX[domain])))
		}
		for i := range 1 + rng.IntN(maxAddrs) {
			a := fmt.Sprintf("user%d@%s", rng.IntN(maxUsers), domain)
			if i%5 == 4 {
				a = fmt.Sprintf("someone.%d@%s", i, domain)
			}
			sw.addrs = append(sw.addrs, a)
			sw.exists[a] = mailboxes[a]
		}
	}
	// Input order is random: domains sharing a host are interleaved.
	rng.Shuffle(len(sw.addrs), func(i, j int) { sw.addrs[i], sw.addrs[j] = sw.addrs[j], sw.addrs[i] })
	sw.budget = []time.Duration{3 * time.Second, 30 * time.Second, time.Minute, 10 * time.Minute}[rng.IntN(4)]
	sw.desc = append(sw.desc, fmt.Sprintf("budget: %v", sw.budget))
	switch rng.IntN(10) {
	case 0:
		// A lying resolver (a sandbox, a captive portal): NXDOMAIN for
		// every name, the canary and existing domains included.
		for name := range sw.res.MX {
			sw.res.Errs[name] = &net.DNSError{Err: "no such host", Name: name, IsNotFound: true, UnwrapErr: mx.ErrNoSuchDomain}
		}
		sw.desc = append(sw.desc, "resolver: NXDOMAIN for everything")
	case 1:
		// A flaky resolver: some domains fail temporarily.
		for _, name := range slices.Sorted(maps.Keys(sw.res.MX)) {
			if rng.IntN(2) == 0 && name != "gmail.com" {
				sw.res.Errs[name] = &net.DNSError{Err: "server misbehaving", Name: name, IsTemporary: true}
			}
		}
		sw.desc = append(sw.desc, "resolver: SERVFAIL for some")
	case 2, 3:
		// DNS that never answers for some names: domains, MX hosts, now
		// and then the canary.
		names := slices.Sorted(maps.Keys(sw.res.MX))
		names = append(names, slices.Sorted(maps.Keys(sw.res.IP))...)
		for _, name := range names {
			if name == "gmail.com" || name == "gmail-smtp-in.l.google.com" {
				if rng.IntN(8) == 0 {
					sw.hang[name] = true
				}
			} else if rng.IntN(3) == 0 {
				sw.hang[name] = true
			}
		}
		for _, d := range []string{"nxdom0.com", "nxdom1.com"} {
			if rng.IntN(4) == 0 {
				sw.hang[d] = true
			}
		}
		if len(sw.hang) == 0 {
			sw.hang[names[rng.IntN(len(names))]] = true
		}
		sw.desc = append(sw.desc, fmt.Sprintf("resolver: never answers for %v", slices.Sorted(maps.Keys(sw.hang))))
	}
	return sw
}

func mxNames(mxs []*net.MX) []string {
	var out []string
	for _, m := range mxs {
		out = append(out, m.Host)
	}
	return out
}

func genHost(rng *rand.Rand) hostSpec {
	b := behaviour(rng.IntN(int(behaviours)))
	if rng.IntN(3) == 0 {
		b = firstConversational + behaviour(rng.IntN(int(behaviours-firstConversational)))
	}
	h := hostSpec{b: b, limit: 1 + rng.IntN(12), permLim: rng.IntN(2) == 0}
	greyText := func() string {
		return []string{"Greylisted, see http://postgrey.schweikert.ch/help/x.html", fmt.Sprintf("Greylisted, try again in %d seconds", int(h.delay.Seconds()))}[rng.IntN(2)]
	}
	switch h.b {
	case greylisting, probeGreylist:
		h.after = []behaviour{strict, strictVague, catchAllHost}[rng.IntN(3)]
		h.delay = []time.Duration{20 * time.Second, 2 * time.Minute, 5 * time.Minute}[rng.IntN(3)]
		h.greyText = greyText()
	case slow:
		h.delay = time.Duration(1+rng.IntN(4)) * time.Second
	case connCapVague:
		h.after = []behaviour{strict, strictVague, catchAllHost}[rng.IntN(3)]
		h.limit = 2 + rng.IntN(5)
		h.perTx = rng.IntN(3) == 0
	case harvest:
		h.after = []behaviour{strict, strictVague}[rng.IntN(2)]
		h.limit = 1 + rng.IntN(5)
		h.perConn = rng.IntN(3) == 0
		h.block = []time.Duration{0, 30 * time.Second, 2 * time.Minute}[rng.IntN(3)]
	case softLimit:
		h.after = []behaviour{strict, strictVague}[rng.IntN(2)]
		h.limit = 1 + rng.IntN(8)
		h.scope = rng.IntN(len(softScopes))
	case banning:
		h.after = []behaviour{strict, strictVague}[rng.IntN(2)]
		h.limit = 1 + rng.IntN(8)
	}
	return h
}

// softScopes are what a soft limit counts: every RCPT from us, those of a
// connection, of a transaction, or of one recipient domain.
var softScopes = []string{"from this client", "of a connection", "of a transaction", "of a domain"}
