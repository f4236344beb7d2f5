package mx

import (
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

func minTTL(a, b time.Duration) time.Duration {
	if a < 0 || b < a {
		return b
	}
	return a
}

// answerRecords returns the records of type t that answer qname in r,
// following a CNAME chain of at most maxCNAMEs links inside the answer, and
// the smallest TTL along the way.
func answerRecords(r *dns.Msg, qname string, t uint16) ([]dns.RR, time.Duration) {
	var out []dns.RR
	ttl := time.Duration(-1)
	owner := qname
	for hops := 0; hops <= maxCNAMEs; hops++ {
		next := ""
		for _, rr := range r.Answer {
			if rr == nil {
				continue
			}
			h := rr.Header()
			if !strings.EqualFold(h.Name, owner) {
				continue
			}
			switch {
			case h.Rrtype == t:
				out = append(out, rr)
				ttl = minTTL(ttl, time.Duration(h.Ttl)*time.Second)
			case h.Rrtype == dns.TypeCNAME && next == "":
				if c, ok := rr.(*dns.CNAME); ok {
					next = c.Target
					ttl = minTTL(ttl, time.Duration(h.Ttl)*time.Second)
				}
			}
		}
		if len(out) > 0 || next == "" {
			break
		}
		owner = next
	}
	return out, max(ttl, 0)
}

func noData(name, server string) error {
	return &net.DNSError{Err: "no such record", Name: name, Server: server, IsNotFound: true, UnwrapErr: ErrNoData}
}

// negativeTTL is the RFC 2308 section 5 TTL of a negative answer: the
// smaller of the SOA record's TTL and its MINIMUM field. Without an SOA
// the answer is not to be cached.
func negativeTTL(r *dns.Msg) time.Duration {
	for _, rr := range r.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return time.Duration(min(soa.Hdr.Ttl, soa.Minttl)) * time.Second
		}
	}
	return 0
}
