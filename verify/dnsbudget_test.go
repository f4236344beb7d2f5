package verify

import (
	"context"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testdns"
	"github.com/mailverify/mailverify/mx"
	"github.com/mailverify/mailverify/syntax"
	"github.com/miekg/dns"
)

// These tests use a real DNS server on loopback and real time: the
// resolver under test is mx.DNS with its sockets, retries and per-query
// timeouts (2 s, 2 attempts), which a synctest bubble cannot hold.

// budget is the signup budget of issue #22; slack is what a result may
// take past it.
const (
	budget = 3 * time.Second
	slack  = 100 * time.Millisecond
)

// startDNS serves h on loopback for the test's life and returns a
// resolver that asks it.
func startDNS(t *testing.T, h dns.Handler) *mx.DNS {
	t.Helper()
	addr, stop, err := testdns.Start(h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return &mx.DNS{Servers: []string{addr}}
}

// silent is an authoritative server that never answers.
var silent = dns.HandlerFunc(func(dns.ResponseWriter, *dns.Msg) {})

// verifyWithin verifies addr with the budget in ctx (byCtx) or in
// Timeout, and fails unless the result comes within budget+slack.
func verifyWithin(t *testing.T, v *Verifier, addr string, byCtx bool) Result {
	t.Helper()
	ctx := t.Context()
	if byCtx {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, budget)
		defer cancel()
	} else {
		v.Timeout = budget
	}
	// The embedded lists load on first use, before any DNS: process start,
	// which the budget leaves aside.
	if _, err := (&Verifier{Offline: true, Syntax: v.Syntax}).Verify(ctx, addr); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r, err := v.Verify(ctx, addr)
	el := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if el > budget+slack {
		t.Errorf("result after %v, want within %v + %v (%s/%s: %v)", el, budget, slack, r.Status, r.Reason, r.Err)
	}
	return r
}

var specialUse = &syntax.Policy{AllowSpecialUse: true}

// TestDNSTimeoutKeepsTheBudget is issue #22 defect 7: an authoritative
// server that never answers must not hold an address past its budget,
// given as a context deadline (the signup handler) or as Timeout (the
// CLI's --timeout), with the risk questions (NS, A/AAAA, CNAME, TXT) and
// the blocklists asked too. The verdict is unknown/timeout.
func TestDNSTimeoutKeepsTheBudget(t *testing.T) {
	res := startDNS(t, silent)
	for _, tc := range []struct {
		name  string
		byCtx bool
		setup func(*Verifier)
	}{
		{"ctx", true, func(*Verifier) {}},
		{"Timeout", false, func(*Verifier) {}},
		{"ctx/RiskDNS", true, func(v *Verifier) { v.RiskDNS = true }},
		{"Timeout/RiskDNS", false, func(v *Verifier) { v.RiskDNS = true }},
		{"Timeout/blocklists", false, func(v *Verifier) {
			v.RiskDNS, v.BlocklistZones, v.IPBlocklistZones = true, []string{"dbl.example"}, []string{"zen.example"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := &Verifier{Resolver: res, Syntax: specialUse, HELO: "verifier.example.net"}
			tc.setup(v)
			r := verifyWithin(t, v, "alice@dnstimeout.example", tc.byCtx)
			if r.Status != Unknown || r.Reason != ReasonTimeout {
				t.Errorf("%s/%s (%v), want unknown/timeout", r.Status, r.Reason, r.Err)
			}
		})
	}
}

// TestCanaryTimeoutKeepsTheBudget: the domain is NXDOMAIN at once, but
// the resolver canary asked before believing it never answers. The
// budget holds, and a denial not shown trustworthy is no verdict.
func TestCanaryTimeoutKeepsTheBudget(t *testing.T) {
	z, err := testdns.NewZone()
	if err != nil {
		t.Fatal(err)
	}
	z.Hang["canary.example."] = true
	res := startDNS(t, z)
	for _, byCtx := range []bool{true, false} {
		name := map[bool]string{true: "ctx", false: "Timeout"}[byCtx]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			v := &Verifier{Resolver: res, Syntax: specialUse, ResolverCanary: "canary.example"}
			r := verifyWithin(t, v, "alice@missing.example", byCtx)
			if r.Status != Unknown || r.Reason != ReasonTimeout && r.Reason != ReasonDNSError {
				t.Errorf("%s/%s (%v), want unknown/timeout or dns_error", r.Status, r.Reason, r.Err)
			}
		})
	}
}
