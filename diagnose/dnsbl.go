package diagnose

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// DefaultDNSBL are widely used public blocklists. Their usage rules, which
// whoever runs diagnose or doctor accepts:
//   - zen.spamhaus.org: free for low-volume, non-commercial use; queries
//     through large public resolvers are refused (answer 127.255.255.254);
//     heavy or commercial use needs a Data Query Service (DQS) key, which
//     Config.SpamhausDQSKey and DoctorConfig.SpamhausDQSKey take: the
//     zone is then asked as KEY.zen.dq.spamhaus.net.
//   - bl.spamcop.net: free, no registration.
//   - b.barracudacentral.org: free, but only for resolvers registered with
//     Barracuda; others get no listing answers (and the zone then does not
//     answer its test entry: "could not check").
//   - psbl.surriel.com: free; mirror the zone for heavy use.
//
// Each address is asked once a run, and each zone once more for its test
// entry 127.0.0.2 (RFC 5782 section 5): a zone that does not list it is
// not working for us, and its silence proves nothing.
var DefaultDNSBL = []string{"zen.spamhaus.org", "bl.spamcop.net", "b.barracudacentral.org", "psbl.surriel.com"}

// spamhausCodes explain zen.spamhaus.org's answers (and DQS's).
var spamhausCodes = map[string]string{
	"127.0.0.2": "SBL: a known spam source", "127.0.0.3": "CSS: a snowshoe-spam source",
	"127.0.0.4": "XBL: an exploited host", "127.0.0.5": "XBL: an exploited host", "127.0.0.6": "XBL: an exploited host",
	"127.0.0.7": "XBL: an exploited host", "127.0.0.9": "DROP: a hijacked network",
	"127.0.0.10": "PBL: an end-user range that should not send directly", "127.0.0.11": "PBL: an end-user range",
	"127.255.255.252": "the query was malformed", "127.255.255.254": "the zone refuses queries from public resolvers",
	"127.255.255.255": "the querying resolver sent too many queries",
}

// delisting are the pages where a listed address is looked up and
// delisting requested, by zone; IP stands for the address.
var delisting = map[string]string{
	"zen.spamhaus.org":       "https://check.spamhaus.org/",
	"zen.dq.spamhaus.net":    "https://check.spamhaus.org/",
	"bl.spamcop.net":         "https://www.spamcop.net/bl.shtml?IP",
	"b.barracudacentral.org": "https://www.barracudacentral.org/lookups",
	"psbl.surriel.com":       "https://psbl.org/listing?ip=IP",
}

// dnsblTestEntry is listed in every DNSBL by convention (RFC 5782 section 5).
var dnsblTestEntry = net.IPv4(127, 0, 0, 2).To4()

// blocklists asks DNSBL zones about addresses, and each zone once for
// its test entry. Safe for concurrent use.
type blocklists struct {
	q       *querier
	section string
	dqsKey  string // asks zen.spamhaus.org as KEY.zen.dq.spamhaus.net

	mu     sync.Mutex
	tested map[string]string // zone -> "" when it answers its test entry, else why not
}

func newBlocklists(q *querier, section, dqsKey string) *blocklists {
	return &blocklists{q: q, section: section, dqsKey: dqsKey, tested: map[string]string{}}
}

// names returns the zone as shown (never with a key) and as asked.
func (b *blocklists) names(zone string) (shown, asked string) {
	zone = strings.ToLower(strings.Trim(zone, "."))
	if b.dqsKey != "" && zone == "zen.spamhaus.org" {
		return "zen.dq.spamhaus.net", b.dqsKey + ".zen.dq.spamhaus.net"
	}
	return zone, zone
}

// ask returns the A answers for ip in zone (none when not listed).
func (b *blocklists) ask(ctx context.Context, ip net.IP, asked string) ([]string, error) {
	q := fmt.Sprintf("%d.%d.%d.%d.%s", ip[3], ip[2], ip[1], ip[0], asked)
	r, err := b.q.ask(ctx, q, dns.TypeA)
	if err != nil {
		return nil, err
	}
	if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
		return nil, fmt.Errorf("the resolver answered %s", dns.RcodeToString[r.Rcode])
	}
	var codes []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			codes = append(codes, a.A.String())
		}
	}
	return codes, nil
}

// working tells whether the zone answers its test entry, asking once.
func (b *blocklists) working(ctx context.Context, asked string) string {
	b.mu.Lock()
	why, done := b.tested[asked]
	b.mu.Unlock()
	if done {
		return why
	}
	codes, err := b.ask(ctx, dnsblTestEntry, asked)
	switch {
	case err != nil:
		why = "the zone did not answer: " + err.Error()
	case len(codes) == 0:
		why = "the zone does not list its test entry 127.0.0.2: it does not resolve, or does not answer this resolver"
	case refusal(codes):
		why = "the zone refused the query for its test entry: " + strings.Join(codes, ", ")
	}
	if ctx.Err() == nil {
		b.mu.Lock()
		b.tested[asked] = why
		b.mu.Unlock()
	}
	return why
}

func refusal(codes []string) bool {
	for _, c := range codes {
		if strings.HasPrefix(c, "127.255.255.") {
			return true
		}
	}
	return false
}

// check asks zone about the IPv4 address ip and returns the finding:
// pass when not listed (and the zone is shown to work), fail when
// listed, info when the zone refused or could not be checked.
func (b *blocklists) check(ctx context.Context, ip net.IP, zone string) Check {
	shown, asked := b.names(zone)
	c := Check{ID: "blocklist." + shown, Section: b.section, Target: ip.String()}
	codes, err := b.ask(ctx, ip, asked)
	if err != nil {
		c.Result, c.Finding = Info, "could not check: the zone did not answer: "+err.Error()
		return c
	}
	if len(codes) == 0 {
		if why := b.working(ctx, asked); why != "" {
			c.Result, c.Finding = Info, "could not check: "+why
			c.Why = "A zone that does not list 127.0.0.2 (RFC 5782 section 5) is not answering; its silence does not mean not listed."
			c.Fix = "Check the zone's name and usage terms (some answer only registered resolvers or keys), or ask through your own resolver."
			return c
		}
		c.Result, c.Finding = Pass, "not listed"
		return c
	}
	var meaning []string
	for _, code := range codes {
		m := "listed"
		if strings.HasPrefix(shown, "zen.") && spamhausCodes[code] != "" {
			m = spamhausCodes[code]
		} else if strings.HasPrefix(code, "127.255.255.") {
			m = "the zone refused the query"
		}
		meaning = append(meaning, code+" ("+m+")")
	}
	c.Evidence = meaning
	if refusal(codes) {
		c.Result, c.Finding = Info, "could not check: the zone refused the query: "+strings.Join(meaning, ", ")
		c.Fix = "Ask through your own resolver, not a public one; for heavy or commercial use get the zone's key (Spamhaus: DQS)."
		return c
	}
	c.Result, c.Finding = Fail, "listed: "+strings.Join(meaning, ", ")
	c.Why = "Receivers that use the list refuse mail from the address."
	c.Fix = "Find the cause (the zone's lookup page says), fix it, and request delisting."
	if u := delisting[shown]; u != "" {
		c.Fix += " Lookup and delisting: " + strings.ReplaceAll(u, "IP", ip.String())
	}
	return c
}

func (d *run) blocklistChecks(ctx context.Context) {
	zones := d.cfg.DNSBL
	if zones == nil {
		zones = DefaultDNSBL
	}
	bl := newBlocklists(d.q, SecBlocklists, d.cfg.SpamhausDQSKey)
	seen := map[string]bool{}
	for _, h := range d.hosts {
		for _, ip := range h.addrs {
			v4 := ip.To4()
			if v4 == nil || seen[v4.String()] {
				continue
			}
			seen[v4.String()] = true
			for _, z := range zones {
				d.rep.add(bl.check(ctx, v4, z))
			}
		}
	}
}
