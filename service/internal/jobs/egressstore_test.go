package jobs

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mailverify/mailverify/egress"
)

// TestEgressStoreCAS: the KV store keeps records with revisions, refuses
// a stale write with egress.ErrConflict, lists what it holds, and a Health
// on it keeps a block across a new Health (a worker's restart).
func TestEgressStoreCAS(t *testing.T) {
	b := openBus(t, Config{})
	defer b.Close()
	s, err := b.NewEgressStore(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	k := egress.Key{Egress: "[2001:db8::1]", Provider: "server:192.0.2.1:25"}
	if r, rev, err := s.Get(k); err != nil || rev != 0 || r.State != egress.StateHealthy {
		t.Fatalf("empty Get: %+v %d %v", r, rev, err)
	}
	rev, err := s.Put(k, egress.Record{State: egress.StateBlocked, Tier: 3}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(k, egress.Record{State: egress.StateThrottled}, 0); !errors.Is(err, egress.ErrConflict) {
		t.Errorf("second create: %v, want ErrConflict", err)
	}
	if _, err := s.Put(k, egress.Record{State: egress.StateThrottled}, rev+7); !errors.Is(err, egress.ErrConflict) {
		t.Errorf("stale update: %v, want ErrConflict", err)
	}
	if _, err := s.Put(k, egress.Record{State: egress.StateHalfOpen, Tier: 3}, rev); err != nil {
		t.Errorf("update at the revision: %v", err)
	}
	es, err := s.List()
	if err != nil || len(es) != 1 || es[0].Key != k || es[0].Record.State != egress.StateHalfOpen {
		t.Fatalf("List: %+v %v", es, err)
	}

	// Concurrent reports through two Healths on the store: one record,
	// blocked, seen by a third Health made afterwards.
	k2 := egress.Key{Egress: "e1", Provider: "google"}
	rep := egress.Reply{Stage: egress.StageMail, Code: 550, Enhanced: "5.7.1", Text: "Service unavailable; Client host [192.0.2.10] blocked using zen.spamhaus.org"}
	var wg sync.WaitGroup
	for range 2 {
		h := &egress.Health{Store: s}
		wg.Go(func() {
			if _, err := h.Observe(k2, "mx.example.com", rep); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	h := &egress.Health{Store: s}
	off, until, err := h.BackedOff(k2)
	if err != nil || !off || until.Before(time.Now()) {
		t.Errorf("after restart: backed off %v until %v (%v); want the block kept", off, until, err)
	}
}
