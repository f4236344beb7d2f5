package main

import (
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testdns"
	"github.com/miekg/dns"
)

// TestDNSTimeoutKeepsTheBudget is issue #22, defect 7, from the command
// line: with --timeout 3s and a DNS server that never answers (on
// loopback), the result comes within 3 s and a little, unknown/timeout.
// --risk-dns is on by default, so the NS, CNAME and TXT questions are
// asked too.
func TestDNSTimeoutKeepsTheBudget(t *testing.T) {
	addr, stop, err := testdns.Start(dns.HandlerFunc(func(dns.ResponseWriter, *dns.Msg) {}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	flags := []string{"--dns", addr, "--allow-special-use", "--progress=false"}
	// The embedded lists load on first use: process start, which the
	// budget leaves aside.
	if code, _, errs := runCLI(t, t.Context(), "", append(flags, "--offline", "alice@dnstimeout.example")...); code != exitOK {
		t.Fatalf("--offline: exit %d: %s", code, errs)
	}
	start := time.Now()
	code, out, errs := runCLI(t, t.Context(), "", append(flags, "--timeout", "3s", "alice@dnstimeout.example")...)
	el := time.Since(start)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if el > 3*time.Second+100*time.Millisecond {
		t.Errorf("took %v, want within 3s + 100ms", el)
	}
	got := parseLines(t, out)
	if len(got) != 1 || got[0].Status != "unknown" || got[0].Reason != "timeout" {
		t.Errorf("got %+v, want one line unknown/timeout", got)
	}
}
