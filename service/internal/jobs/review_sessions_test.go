package jobs

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/verify"
)

// TestReviewSharedEgressSessionsAtServers (review rev-budget): three
// workers declare one egress whose Google profile allows one session at
// once. Google's work is spread over three of its servers (three MX
// hosts, each its own partition, so the workers can hold them at once).
// The servers count the connections open at once from the egress's
// source address, over all three: never more than one. (With the
// profile's sessions at 4 the same run shows 3 at once: the test sees
// concurrency when it is there.) A session's lease is released once the
// server has let its connection go, not once the client has closed its
// end (verify's heldConn): before, a server that had answered QUIT but
// not yet closed saw the next session connect.
func TestReviewSharedEgressSessionsAtServers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster")
	}
	ns := startNATS(t)
	w := newEgressWorld(t, "")
	cc, addrs := threeGoogleServers(t, w)
	// The servers let a connection go 20 ms after they end it, as a loaded
	// server may: a session that connects before the last one is let go
	// is seen whatever the load of the machine that runs the test.
	cc.linger = 20 * time.Millisecond
	one := func() *verify.Verifier {
		v := w.verifier(sharedEgress)
		v.Profiles = budgetProfiles(t, `{"profiles": [
		 {"provider": "default", "per_minute": 1000, "sessions": 4, "sources": {"per_minute": "test", "sessions": "test"}},
		 {"provider": "google", "per_minute": 1000, "sessions": 1, "sources": {"per_minute": "test", "sessions": "test"}}]}`)
		return v
	}
	cfg := testBus
	cfg.URL, cfg.Partitions = ns.ClientURL(), 2
	sched := startNodeOn(t, cfg, w.verifier(), false, 0)
	for range 3 {
		startNodeOn(t, cfg, one(), true, time.Minute)
	}
	j, err := sched.bus.Submit(context.Background(), Spec{}, lines(addrs))
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, sched.bus, j.ID, 120*time.Second)
	got := allResults(t, sched.bus, j.ID, 50)
	if len(got) != len(addrs) {
		t.Fatalf("%d results for %d addresses", len(got), len(addrs))
	}
	cc.mu.Lock()
	most := cc.max["127.0.0.2"]
	cc.mu.Unlock()
	if most > 1 {
		t.Errorf("Google's servers saw %d sessions at once from the shared egress; its profile allows 1", most)
	}
	if most == 0 {
		t.Error("no session from the shared egress: the test tells nothing")
	}
	right := 0
	for i, a := range addrs {
		r := got[i]
		switch {
		case strings.HasPrefix(a, "jane@") && r.Status == verify.Deliverable, strings.HasPrefix(a, "nobody@") && r.Status == verify.Undeliverable:
			right++
		case r.Status == verify.Deliverable || r.Status == verify.Undeliverable:
			t.Errorf("%s: %s, a wrong definite verdict", a, r.Status)
		}
	}
	t.Logf("%d of %d addresses right and definite; most sessions at once %d", right, len(addrs), most)
}
