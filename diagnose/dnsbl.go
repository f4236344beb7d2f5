package diagnose

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/miekg/dns"
)

// DefaultDNSBL are widely used public blocklists. Their usage rules, which
// whoever runs diagnose accepts:
//   - zen.spamhaus.org: free for low-volume, non-commercial use; queries
//     through large public resolvers are refused (answer 127.255.255.254);
//     heavy or commercial use needs a Data Query Service key.
//   - bl.spamcop.net: free, no registration.
//   - b.barracudacentral.org: free, but only for resolvers registered with
//     Barracuda; others get no listing answers.
//   - psbl.surriel.com: free; mirror the zone for heavy use.
//
// Each address is asked once a run.
var DefaultDNSBL = []string{"zen.spamhaus.org", "bl.spamcop.net", "b.barracudacentral.org", "psbl.surriel.com"}

// spamhausCodes explain zen.spamhaus.org's answers.
var spamhausCodes = map[string]string{
	"127.0.0.2": "SBL: a known spam source", "127.0.0.3": "CSS: a snowshoe-spam source",
	"127.0.0.4": "XBL: an exploited host", "127.0.0.5": "XBL: an exploited host", "127.0.0.6": "XBL: an exploited host",
	"127.0.0.7": "XBL: an exploited host", "127.0.0.9": "DROP: a hijacked network",
	"127.0.0.10": "PBL: an end-user range that should not send directly", "127.0.0.11": "PBL: an end-user range",
	"127.255.255.252": "the query was malformed", "127.255.255.254": "the zone refuses queries from public resolvers",
	"127.255.255.255": "the querying resolver sent too many queries",
}

func (d *run) blocklistChecks(ctx context.Context) {
	zones := d.cfg.DNSBL
	if zones == nil {
		zones = DefaultDNSBL
	}
	seen := map[string]bool{}
	for _, h := range d.hosts {
		for _, ip := range h.addrs {
			v4 := ip.To4()
			if v4 == nil || seen[v4.String()] {
				continue
			}
			seen[v4.String()] = true
			for _, z := range zones {
				d.dnsblCheck(ctx, v4, z)
			}
		}
	}
}

func (d *run) dnsblCheck(ctx context.Context, ip net.IP, zone string) {
	q := fmt.Sprintf("%d.%d.%d.%d.%s", ip[3], ip[2], ip[1], ip[0], zone)
	c := Check{ID: "blocklist." + zone, Section: SecBlocklists, Target: ip.String()}
	r, err := d.q.ask(ctx, q, dns.TypeA)
	if err != nil {
		c.Result, c.Finding = Info, "the zone did not answer: "+err.Error()
		d.rep.add(c)
		return
	}
	var codes []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			codes = append(codes, a.A.String())
		}
	}
	if len(codes) == 0 {
		c.Result, c.Finding = Pass, "not listed"
		d.rep.add(c)
		return
	}
	var meaning []string
	refused := false
	for _, code := range codes {
		m := "listed"
		if zone == "zen.spamhaus.org" && spamhausCodes[code] != "" {
			m = spamhausCodes[code]
		}
		if strings.HasPrefix(code, "127.255.255.") {
			refused = true
		}
		meaning = append(meaning, code+" ("+m+")")
	}
	c.Evidence = meaning
	if refused {
		c.Result, c.Finding = Info, "the zone refused the query: "+strings.Join(meaning, ", ")
		c.Fix = "Ask through your own resolver, not a public one."
	} else {
		c.Result, c.Finding = Fail, "listed: "+strings.Join(meaning, ", ")
		c.Why, c.Fix = "Receivers that use the list refuse the server's mail.", "Find the cause (the zone's lookup page says), fix it, and request delisting."
	}
	d.rep.add(c)
}
