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
