package mx

import (
	"context"
	"net"

	"github.com/miekg/dns"
)

// LookupNS returns the name servers of name.
func (d *DNS) LookupNS(ctx context.Context, name string) ([]*net.NS, error) {
	rrs, _, err := d.query(ctx, name, dns.TypeNS)
	if err != nil {
		return nil, err
	}
	out := make([]*net.NS, 0, len(rrs))
	for _, rr := range rrs {
		if ns, ok := rr.(*dns.NS); ok {
			out = append(out, &net.NS{Host: ns.Ns})
		}
	}
	return out, nil
}

// A CNAMEResolver answers CNAME questions too; [*DNS] and *net.Resolver do.
type CNAMEResolver interface {
	LookupCNAME(ctx context.Context, host string) (string, error)
}

// LookupCNAME returns the target host's name is an alias of, or host
// itself when it is no alias (as net.Resolver does).
func (d *DNS) LookupCNAME(ctx context.Context, host string) (string, error) {
	r, _, err := d.exchange(ctx, dns.Fqdn(host), dns.TypeCNAME)
	if err != nil {
		return "", err
	}
	for _, rr := range r.Answer {
		if c, ok := rr.(*dns.CNAME); ok {
			return c.Target, nil
		}
	}
	return dns.Fqdn(host), nil
}
