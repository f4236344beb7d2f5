package verify

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/mailverify/mailverify/mx"
)

// TestEgressLeaseNotHeldWhileWaitingForSlot: a session that waits for
// the server's local slot (PerHost 1, taken by another session of the
// process) holds none of the egress's sessions meanwhile: where the store
// is a cluster's, one held while this process waits for its own slot
// keeps a session from every other worker for nothing. With the lease
// taken before the slot, the waiting session held the egress's second.
func TestEgressLeaseNotHeldWhileWaitingForSlot(t *testing.T) {
	const twoSessions = `{"about": "test", "profiles": [{"provider": "default", "per_minute": 1000, "sessions": 2, "sources": {"per_minute": "test", "sessions": "test"}}]}`
	w := newEgressWorld(t, "", sourceRule{})
	v, _ := w.verifier(t, 1, twoSessions)
	v.PerHost = 1
	v.init()
	h := mx.Host{Name: "mx.pool-mail.com", Addrs: []netip.Addr{netip.MustParseAddr("127.0.3.1")}}
	s, _, release, err := v.open(t.Context(), h, nil, &pacer{})
	if err != nil {
		t.Fatal(err)
	}
	sl := v.sessionLeaseOf(s)
	if sl == nil {
		t.Fatal("the session holds no egress lease")
	}
	key := sl.lease.Key
	if n := v.eg.router.Budgets().Usage(key).Sessions; n != 1 {
		t.Fatalf("%d egress sessions held by one open session", n)
	}
	ctx, cancel := context.WithCancel(t.Context())
	waited := make(chan error, 1)
	go func() {
		_, _, rel, err := v.open(ctx, h, nil, &pacer{})
		if err == nil {
			rel()
		}
		waited <- err
	}()
	time.Sleep(200 * time.Millisecond) // the second open waits for the slot
	held := v.eg.router.Budgets().Usage(key).Sessions
	cancel()
	if err := <-waited; err == nil {
		t.Error("the second session opened while the server's only slot was taken")
	}
	s.Close()
	release()
	if held != 1 {
		t.Errorf("%d egress sessions held while one session waits for the server's slot; want 1", held)
	}
}
