package mx

import (
	"testing"
)

// BenchmarkLookupCached measures a lookup answered from the cache, the
// path every address of an already-seen domain takes.
func BenchmarkLookupCached(b *testing.B) {
	z := standardZone(b)
	c := &Client{Resolver: testDNS(serve(b, z))}
	if _, err := c.Lookup(b.Context(), "example.test"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		c.Lookup(b.Context(), "example.test")
	}
}

// BenchmarkLookupCold measures a full lookup (MX, then A and AAAA for three
// hosts) against the in-process DNS server on loopback, cache disabled.
func BenchmarkLookupCold(b *testing.B) {
	z := standardZone(b)
	c := &Client{Resolver: testDNS(serve(b, z)), CacheSize: -1}
	b.ReportAllocs()
	for b.Loop() {
		r, err := c.Lookup(b.Context(), "example.test")
		if err != nil || r.Status != Found {
			b.Fatal(r.Status, err)
		}
	}
}
