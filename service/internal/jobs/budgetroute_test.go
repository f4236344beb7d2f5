package jobs

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/verify"
)

// sharedEgress is one way out that several workers declare: one SOCKS5
// proxy, or a worker beside serve on one machine.
var sharedEgress = egress.Egress{Name: "shared", Source: netip.MustParseAddr("127.0.0.2")}

// budgetVerifier is w's verifier with a Google budget of 10 RCPTs an hour
// per egress.
func budgetVerifier(t *testing.T, w *egressWorld, es ...egress.Egress) *verify.Verifier {
	v := w.verifier(es...)
	v.Profiles = budgetProfiles(t, `{"profiles": [
	 {"provider": "default", "per_minute": 1000, "sessions": 4, "sources": {"per_minute": "test", "sessions": "test"}},
	 {"provider": "google", "per_minute": 1000, "per_hour": 10, "sessions": 4,
	  "sources": {"per_minute": "test", "per_hour": "test", "sessions": "test"}}]}`)
	return v
}

// checkWithinBudget fails unless each address has exactly one result:
// a right definite verdict, or unknown/rate_limited with retry_after.
// It returns how many were rate limited.
func checkWithinBudget(t *testing.T, b *Bus, id string, addrs []string) int {
	t.Helper()
	got := allResults(t, b, id, 50)
	if len(got) != len(addrs) {
		t.Fatalf("%d results for %d addresses", len(got), len(addrs))
	}
	limited := 0
	for i, a := range addrs {
		r := got[i]
		switch {
		case r.Status == verify.Unknown && r.Reason == verify.ReasonRateLimited && r.RetryAfter > 0:
			limited++
		case strings.HasPrefix(a, "jane@") && r.Status == verify.Deliverable,
			strings.HasPrefix(a, "nobody@") && r.Status == verify.Undeliverable:
		default:
			t.Errorf("%s: %s/%s retry_after %v (%s); want a right verdict or unknown/rate_limited with retry_after",
				a, r.Status, r.Reason, time.Duration(r.RetryAfter), r.Error)
		}
	}
	return limited
}

// TestSharedEgressOneBudget: workers that declare the same egress spend
// one budget for it, across the cluster and across restarts. Worker A
// spends Google's 10 RCPTs an hour on a first job, which needs more; it
// stops, and B and C start with the same egress: a second job gets no
// new budget. The server counts the RCPTs per source address: at most
// 10 in all. Each budget kept per process would allow 10 more per worker.
func TestSharedEgressOneBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster")
	}
	ns := startNATS(t)
	w := newEgressWorld(t, "")
	g := w.domains("g", "gmail-smtp-in.l.google.com", 12)
	sched := startEgressNode(t, ns.ClientURL(), w.verifier(), false, 0)
	a := startEgressNode(t, ns.ClientURL(), budgetVerifier(t, w, sharedEgress), true, 2*time.Second)
	j, err := sched.bus.Submit(context.Background(), Spec{}, lines(g[:12]))
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, sched.bus, j.ID, 60*time.Second)
	limited := checkWithinBudget(t, sched.bus, j.ID, g[:12])
	first := w.seen(w.rcpts, "google 127.0.0.2")
	if first == 0 || first > 10 || limited == 0 {
		t.Fatalf("first job: %d RCPTs from the egress, %d addresses rate limited; want 1-10 RCPTs and some limited", first, limited)
	}
	a.stop()

	startEgressNode(t, ns.ClientURL(), budgetVerifier(t, w, sharedEgress), true, 2*time.Second)
	startEgressNode(t, ns.ClientURL(), budgetVerifier(t, w, sharedEgress), true, 2*time.Second)
	j2, err := sched.bus.Submit(context.Background(), Spec{}, lines(g[12:]))
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, sched.bus, j2.ID, 60*time.Second)
	limited2 := checkWithinBudget(t, sched.bus, j2.ID, g[12:])
	if n := w.seen(w.rcpts, "google 127.0.0.2"); n > 10 {
		t.Errorf("the egress sent Google %d RCPTs in all (%d after A stopped); its budget is 10 an hour", n, n-first)
	}
	if limited2 == 0 {
		t.Errorf("second job: no address rate limited; want the budget spent before")
	}
}
