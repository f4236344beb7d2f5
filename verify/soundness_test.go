package verify

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/mx"
)

// The soundness property: in a random world whose generator knows which
// mailboxes exist, no address that does not exist is ever deliverable, no
// address that exists is ever undeliverable, every address gets exactly
// one result within the budget, and no goroutine is left behind (synctest
// fails the bubble otherwise). Unknown is always allowed. Servers in the
// world are honest about mailboxes whenever they answer about one; they
// may be slow, limited, greylisting, catch-all, broken or hostile in every
// other way.

var soundnessWorlds = flag.Int("soundness.worlds", 0, "worlds for TestSoundness (0: 500, or 200 with -short)")

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
	behaviours
)

var behaviourNames = [...]string{"strict", "strict-vague", "catch-all", "policy-all", "block-all", "greylisting",
	"rcpt-limit", "first-rcpt-only", "rate-limited", "broken-pipelining", "extra-reply", "dropper", "slow",
	"flaky-mail", "closer", "resetter", "early-talker", "dripper", "confused", "refused"}

// hostSpec is one generated mail host.
type hostSpec struct {
	b        behaviour
	after    behaviour     // for greylisting: what it does once the delay passed
	delay    time.Duration // greylisting delay or reply delay
	limit    int           // recipient limit, or RCPTs before rate limiting
	permLim  bool          // the recipient limit is answered with 5xx
	greyText string
}

// soundWorld is a generated world with its truth.
type soundWorld struct {
	*world
	exists map[string]bool // address -> mailbox exists
	addrs  []string
	desc   []string
	budget time.Duration
}

func genWorld(seed uint64) *soundWorld {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	sw := &soundWorld{world: newWorld(), exists: map[string]bool{}}
	// The canary, so that NXDOMAIN is believed.
	sw.res.MX["gmail.com"] = []*net.MX{{Host: "gmail-smtp-in.l.google.com", Pref: 5}}
	sw.res.IP["gmail-smtp-in.l.google.com"] = []netip.Addr{netip.MustParseAddr("127.9.9.9")}
	// Hosts may serve several domains (as Workspace or Microsoft 365 hosts
	// do): their servers know the mailboxes of every domain they serve.
	type poolHost struct {
		name  string
		addr  netip.Addr
		known map[string]bool
	}
	var pool []poolHost
	// Most worlds are small; one in ten is larger, to exercise sharing,
	// parking and the window under load.
	maxDomains, maxAddrs, maxUsers := 5, 12, 8
	if rng.IntN(10) == 0 {
		maxDomains, maxAddrs, maxUsers = 15, 40, 30
	}
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
			for h := range 1 + rng.IntN(3) {
				var ph poolHost
				if len(pool) > 0 && rng.IntN(3) == 0 {
					ph = pool[rng.IntN(len(pool))]
				} else {
					spec := genHost(rng)
					ph = poolHost{name: fmt.Sprintf("mx%d.hosting%d.net", h, len(pool)), addr: netip.AddrFrom4([4]byte{127, 0, 3, byte(len(pool) + 1)}), known: map[string]bool{}}
					pool = append(pool, ph)
					sw.res.IP[ph.name] = []netip.Addr{ph.addr}
					if spec.b != refused {
						srv := spec.server(ph.known)
						if rng.IntN(2) == 0 {
							// A simulated network buffers what a bare
							// net.Pipe would block on, as TCP does.
							srv.Latency = time.Duration(1+rng.IntN(20)) * time.Millisecond
						}
						sw.router[netip.AddrPortFrom(ph.addr, 25).String()] = srv
					}
					sw.desc = append(sw.desc, fmt.Sprintf("%s: %s%+v", ph.name, behaviourNames[spec.b], spec))
				}
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
	sw.budget = []time.Duration{3 * time.Second, 30 * time.Second, time.Minute, 10 * time.Minute}[rng.IntN(4)]
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
		for name := range sw.res.MX {
			if rng.IntN(2) == 0 && name != "gmail.com" {
				sw.res.Errs[name] = &net.DNSError{Err: "server misbehaving", Name: name, IsTemporary: true}
			}
		}
		sw.desc = append(sw.desc, "resolver: SERVFAIL for some")
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
	h := hostSpec{b: behaviour(rng.IntN(int(behaviours))), limit: 1 + rng.IntN(12), permLim: rng.IntN(2) == 0}
	switch h.b {
	case greylisting:
		h.after = []behaviour{strict, strictVague, catchAllHost}[rng.IntN(3)]
		h.delay = []time.Duration{20 * time.Second, 2 * time.Minute, 5 * time.Minute}[rng.IntN(3)]
		h.greyText = []string{"Greylisted, see http://postgrey.schweikert.ch/help/x.html", fmt.Sprintf("Greylisted, try again in %d seconds", int(h.delay.Seconds()))}[rng.IntN(2)]
	case slow:
		h.delay = time.Duration(1+rng.IntN(4)) * time.Second
	}
	return h
}

// server builds the host's scripted SMTP server; known are the mailboxes
// that exist (the truth).
func (h hostSpec) server(known map[string]bool) *testsmtp.Server {
	var mu sync.Mutex
	rcpts := 0
	firstSeen := map[string]time.Time{}
	connRcpts := map[int]int{}
	honest := func(b behaviour, a string) testsmtp.Reply {
		switch {
		case b == catchAllHost || known[a]:
			return testsmtp.R(250, "2.1.5", "Ok")
		case b == strictVague:
			return testsmtp.R(550, "", "Rejected")
		}
		return testsmtp.R(550, "5.1.1", "<"+a+">: Recipient address rejected: User unknown")
	}
	rcpt := func(c *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
		a := rcptAddress(cmd.Arg)
		mu.Lock()
		defer mu.Unlock()
		rcpts++
		connRcpts[c.Index]++
		switch h.b {
		case policyAll:
			return testsmtp.R(550, "", "Rejected")
		case blockAll:
			return testsmtp.R(554, "5.7.1", "Service unavailable; client host blocked using zen.spamhaus.org")
		case greylisting:
			t0, ok := firstSeen[a]
			if !ok {
				t0, firstSeen[a] = time.Now(), time.Now()
			}
			if time.Since(t0) < h.delay {
				return testsmtp.R(450, "4.2.0", h.greyText)
			}
			return honest(h.after, a)
		case rcptLimit:
			if c.Rcpts >= h.limit {
				if h.permLim {
					return testsmtp.R(550, "", "Too many recipients")
				}
				return testsmtp.R(452, "4.5.3", "Too many recipients")
			}
		case firstRcptOnly:
			if connRcpts[c.Index] > 1 {
				return testsmtp.R(452, "4.5.3", "Too many recipients (AS780090)")
			}
		case rateLimited:
			if rcpts > h.limit {
				return testsmtp.R(450, "4.7.1", "Rate limit exceeded, slow down")
			}
		case extraReply:
			if rcpts%3 == 0 {
				r := honest(strict, a)
				return testsmtp.Reply{Raw: strings.ReplaceAll(fmt.Sprintf("%d %s %s\r\n", r.Code, r.Enhanced, r.Lines[0]), "  ", " ") + "550 5.1.1 stray reply\r\n"}
			}
		case dropper:
			if rcpts%4 == 0 {
				return testsmtp.Reply{Drop: true}
			}
		case slow:
			r := honest(strict, a)
			r.Delay = h.delay
			return r
		case closer:
			if connRcpts[c.Index] > h.limit {
				return testsmtp.R(421, "4.7.0", "Too many commands, closing")
			}
		case resetter:
			if rcpts%5 == 0 {
				r := honest(strict, a)
				r.Reset = true
				return r
			}
		case dripper:
			if rcpts%3 == 0 {
				r := honest(strict, a)
				r.Drip = 50 * time.Millisecond
				return r
			}
		case confused:
			if rcpts%4 == 0 {
				return testsmtp.R(503, "5.5.1", "Error: need MAIL command")
			}
		}
		return honest(strict, a)
	}
	handlers := map[string]testsmtp.Handler{"RCPT": rcpt}
	switch h.b {
	case flakyMail:
		mails, rsets := 0, 0
		handlers["MAIL"] = func(*testsmtp.Conn, testsmtp.Command) testsmtp.Reply {
			mu.Lock()
			defer mu.Unlock()
			if mails++; mails%3 == 0 {
				return testsmtp.R(451, "4.3.0", "Temporary failure, try later")
			}
			return testsmtp.R(250, "2.1.0", "Ok")
		}
		handlers["RSET"] = func(*testsmtp.Conn, testsmtp.Command) testsmtp.Reply {
			mu.Lock()
			defer mu.Unlock()
			if rsets++; rsets%4 == 0 {
				return testsmtp.R(502, "5.5.1", "RSET not implemented")
			}
			return testsmtp.R(250, "2.0.0", "Ok")
		}
	case earlyTalker:
		handlers["EHLO"] = func(*testsmtp.Conn, testsmtp.Command) testsmtp.Reply {
			return testsmtp.Reply{Raw: "250-talker\r\n250 PIPELINING\r\n250 2.0.0 Ok\r\n"}
		}
	}
	srv := &testsmtp.Server{Handlers: handlers}
	srv.OneCommandPerRead = h.b == brokenPipe
	return srv
}

func rcptAddress(arg string) string {
	_, rest, _ := strings.Cut(arg, "<")
	a, _, _ := strings.Cut(rest, ">")
	return strings.ToLower(a)
}

// checkWorld runs one world and reports every violation of the property.
func checkWorld(t *testing.T, seed uint64) {
	synctest.Test(t, func(t *testing.T) {
		sw := genWorld(seed)
		defer sw.router.close()
		rng := rand.New(rand.NewPCG(seed, 7))
		v := sw.verifier()
		v.GreylistMaxWait = 0
		v.GreylistDelay = []time.Duration{0, 10 * time.Second, time.Minute}[rng.IntN(3)]
		v.MaxRcpts = []int{0, 3, 5}[rng.IntN(3)]
		v.SkipCatchAll = rng.IntN(6) == 0
		v.Concurrency = []int{0, 1, 3}[rng.IntN(3)]
		v.PerHost = []int{0, 1, 4}[rng.IntN(3)]
		v.Transcript = rng.IntN(4) == 0
		v.Window = []int{0, 2, 7}[rng.IntN(3)]
		ctx, cancel := context.WithTimeout(t.Context(), sw.budget)
		defer cancel()
		start := time.Now()
		seen := map[int]bool{}
		for i, r := range v.VerifyAll(ctx, sw.addrs) {
			a := sw.addrs[i]
			if seen[i] {
				t.Errorf("seed %d: %s has a second result", seed, a)
			}
			seen[i] = true
			switch {
			case !sw.exists[a] && r.Status == Deliverable:
				t.Errorf("seed %d: %s does not exist but is deliverable (%+v, catch_all %v)\nworld: %s", seed, a, r.SMTP, r.CatchAll, strings.Join(sw.desc, "; "))
			case sw.exists[a] && r.Status == Undeliverable:
				t.Errorf("seed %d: %s exists but is undeliverable/%s (%+v)\nworld: %s", seed, a, r.Reason, r.SMTP, strings.Join(sw.desc, "; "))
			}
		}
		if len(seen) != len(sw.addrs) {
			t.Errorf("seed %d: %d results for %d addresses", seed, len(seen), len(sw.addrs))
		}
		if d := time.Since(start); d > sw.budget+100*time.Millisecond {
			t.Errorf("seed %d: took %v on a %v budget", seed, d, sw.budget)
		}
	})
}

func TestSoundness(t *testing.T) {
	n := *soundnessWorlds
	if n == 0 {
		n = 500
		if testing.Short() {
			n = 200
		}
	}
	for seed := range uint64(n) {
		checkWorld(t, seed)
		if t.Failed() {
			break
		}
	}
}

func FuzzSoundness(f *testing.F) {
	for _, s := range []uint64{0, 1, 42, 1 << 40} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, seed uint64) { checkWorld(t, seed) })
}
