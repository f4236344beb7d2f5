package jobs

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mailverify/mailverify/egress"
)

// TestHealthKVDownIsRateLimited: the cluster's health bucket (mv_egress)
// is gone from the running NATS server (deleted: every read fails as a
// bucket out of reach does), while the budgets' bucket works. A worker's
// verifier starts no session (a back-off it cannot read is not overrun)
// and ends the address unknown/rate_limited with retry_after, its error an
// *egress.StoreError of the health store, at once: a store outage is not
// a fact about the mailbox or the receiver, and the cluster parks such an
// address. Before, the KV's error reached the engine bare and the address
// ended unknown/connection_failed (or unknown/timeout for a KV timeout),
// which the cluster stores as the answer.
func TestHealthKVDownIsRateLimited(t *testing.T) {
	w := newEgressWorld(t, "")
	g := w.domains("g", "gmail-smtp-in.l.google.com", 1)
	b := openBus(t, Config{})
	t.Cleanup(b.Close)
	store, err := b.NewEgressStore(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.JS.DeleteKeyValue(t.Context(), EgressBucket); err != nil {
		t.Fatal(err)
	}
	v := w.verifier(sharedEgress)
	v.Timeout, v.EgressStore = 5*time.Second, store
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	start := time.Now()
	r, err := v.Verify(ctx, g[0])
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if n := w.seen(w.rcpts, "google 127.0.0.2"); n != 0 {
		t.Errorf("%d RCPTs sent with the health store gone; want none", n)
	}
	rateLimitedBy(t, "with the health store gone", g[0], r, took, 4*time.Second)
	var se *egress.StoreError
	if !errors.As(r.Err, &se) || se.Store != "health" || !errors.Is(r.Err, egress.ErrStore) {
		t.Errorf("%s: error %v (%T); want an *egress.StoreError of the health store", g[0], r.Err, r.Err)
	}
}
