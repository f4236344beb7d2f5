package mxtest_test

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/mailverify/mailverify/mx"
	"github.com/mailverify/mailverify/mx/mxtest"
)

func TestResolverWithClient(t *testing.T) {
	r := &mxtest.Resolver{
		MX: map[string][]*net.MX{
			"example.com": {{Host: "mx.example.com", Pref: 10}},
			"nullmx.com":  {{Host: ".", Pref: 0}},
		},
		IP: map[string][]netip.Addr{
			"mx.example.com": {netip.MustParseAddr("192.0.2.25"), netip.MustParseAddr("2001:db8::25")},
			"implicit.com":   {netip.MustParseAddr("192.0.2.26")},
		},
		Errs: map[string]error{"broken.com": &net.DNSError{Err: "server misbehaving", Name: "broken.com", IsTemporary: true}},
	}
	c := &mx.Client{Resolver: r, AllowPrivate: true, Canary: "-"}
	for domain, want := range map[string]mx.Status{
		"example.com":  mx.Found,
		"Example.COM":  mx.Found,
		"nullmx.com":   mx.NullMX,
		"implicit.com": mx.Found,
		"missing.com":  mx.DomainNotFound,
		"broken.com":   mx.Temporary,
	} {
		res, err := c.Lookup(t.Context(), domain)
		if err != nil || res.Status != want {
			t.Errorf("Lookup(%q) = %v, %v; want %v", domain, res.Status, err, want)
		}
	}
	if n := r.Queries("MX", "example.com"); n != 1 {
		t.Errorf("example.com MX asked %d times, want 1 (the second lookup is cached)", n)
	}
	if _, err := r.LookupNetIP(t.Context(), "ip6", "implicit.com"); !errors.Is(err, mx.ErrNoData) {
		t.Errorf("ip6 of an IPv4-only name: %v, want ErrNoData", err)
	}
	guarded := &mx.Client{Resolver: r}
	if res, _ := guarded.Lookup(t.Context(), "example.com"); res.Status != mx.Unroutable {
		t.Errorf("documentation addresses with the guard on: %v, want unroutable", res.Status)
	}
}
