package mx

import (
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testdns"
	"github.com/miekg/dns"
)

type zone = testdns.Zone

func rr(t testing.TB, s string) dns.RR {
	t.Helper()
	r, err := dns.NewRR(s)
	if err != nil {
		t.Fatalf("dns.NewRR(%q): %v", s, err)
	}
	return r
}

func newZone(t testing.TB, lines ...string) *zone {
	t.Helper()
	z, err := testdns.NewZone(lines...)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// serve runs h on loopback until the test ends and returns its address.
func serve(t testing.TB, h dns.Handler) string {
	t.Helper()
	addr, stop, err := testdns.Start(h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return addr
}

// testDNS returns a DNS resolver that asks only addr, with short timeouts.
func testDNS(addrs ...string) *DNS {
	return &DNS{Servers: addrs, Timeout: 300 * time.Millisecond, Attempts: 1}
}

// standardZone is the zone most tests share.
func standardZone(t testing.TB) *zone {
	z := newZone(t,
		"example.test. 3600 IN MX 10 mx1.example.test.",
		"example.test. 3600 IN MX 20 mx2.example.test.",
		"example.test. 3600 IN MX 10 mx3.example.test.",
		"mx1.example.test. 600 IN A 1.2.3.4",
		"mx1.example.test. 600 IN AAAA 2606:4700::1",
		"mx2.example.test. 600 IN A 1.2.3.5",
		"mx3.example.test. 120 IN A 1.2.3.6",
		"nullmx.test. 3600 IN MX 0 .",
		"cname.test. 300 IN MX 10 alias.cname.test.",
		"alias.cname.test. 300 IN CNAME real.cname.test.",
		"real.cname.test. 300 IN A 1.2.3.7",
		"mxcname.test. 300 IN CNAME example.test.",
		"implicit.test. 300 IN A 1.2.3.8",
		"implicit.test. 300 IN TXT \"v=spf1 -all\"",
		"empty.test. 300 IN TXT \"nothing here\"",
		"private.test. 300 IN MX 10 mx.private.test.",
		"mx.private.test. 300 IN A 127.0.0.1",
		"mx.private.test. 300 IN A 10.1.2.3",
		"mx.private.test. 300 IN AAAA ::1",
		"partial.test. 300 IN MX 10 gone.partial.test.",
		"partial.test. 300 IN MX 20 ok.partial.test.",
		"ok.partial.test. 300 IN A 1.2.3.9",
		"allgone.test. 300 IN MX 10 gone.allgone.test.",
		"hosttemp.test. 300 IN MX 10 broken.hosttemp.test.",
		"gmail.test. 300 IN MX 5 gmail-smtp-in.l.google.com.",
		"gmail-smtp-in.l.google.com. 300 IN A 1.2.3.10",
		"numeric.test. 300 IN MX 10 1.2.3.11.",
		"gmail.com. 300 IN MX 5 gmail-smtp-in.l.google.com.", // the canary
	)
	z.Rcode["servfail.test."] = dns.RcodeServerFailure
	z.Rcode["broken.hosttemp.test."] = dns.RcodeServerFailure
	z.Hang["slow.test."] = true
	big := []string{}
	for i := range 40 {
		big = append(big, "big.test. 300 IN MX 10 mx"+strings.Repeat("x", 40)+string(rune('a'+i%26))+string(rune('a'+i/26))+".big.test.")
	}
	for _, l := range big {
		r := rr(t, l)
		z.Records["big.test."] = append(z.Records["big.test."], r)
	}
	z.Truncate["big.test."] = true
	return z
}
