package mx_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/mailverify/mailverify/mx"
	"github.com/mailverify/mailverify/mx/mxtest"
)

func ExampleClient_Lookup() {
	// A fake resolver stands in for DNS here; the zero Client uses the
	// servers of /etc/resolv.conf.
	c := &mx.Client{Canary: "example.org", Resolver: &mxtest.Resolver{
		MX: map[string][]*net.MX{
			"example.org": {{Host: "mx2.example.org", Pref: 20}, {Host: "mx1.example.org", Pref: 10}},
			"no-mail.org": {{Host: ".", Pref: 0}},
		},
		IP: map[string][]netip.Addr{
			"mx1.example.org": {netip.MustParseAddr("8.8.4.4")},
			"mx2.example.org": {netip.MustParseAddr("10.0.0.2")}, // private: refused
		},
	}}
	for _, domain := range []string{"example.org", "no-mail.org", "missing.org"} {
		r, err := c.Lookup(context.Background(), domain)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(domain, r.Status)
		for _, h := range r.Hosts {
			fmt.Println(" ", h.Pref, h.Name, h.Addrs, "refused:", h.Refused)
		}
	}
	// Output:
	// example.org found
	//   10 mx1.example.org [8.8.4.4] refused: []
	//   20 mx2.example.org [] refused: [10.0.0.2]
	// no-mail.org null_mx
	// missing.org domain_not_found
}
