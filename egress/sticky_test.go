package egress

import (
	"fmt"
	"testing"
)

func TestStickyMapEvictsLeastRecentlyUsed(t *testing.T) {
	s := newStickyMap(3)
	k := func(i int) [2]string { return [2]string{"google", fmt.Sprint("192.0.2.", i)} }
	for i := range 3 {
		s.put(k(i), i)
	}
	if _, ok := s.get(k(0)); !ok { // k(0) is now the most recent
		t.Fatal("k0 forgotten under the limit")
	}
	s.put(k(3), 3) // over the limit: k(1), the least recent, goes
	if s.len() != 3 {
		t.Errorf("%d entries, limit 3", s.len())
	}
	if _, ok := s.get(k(1)); ok {
		t.Error("k1, the least recently used, was kept")
	}
	for _, i := range []int{0, 2, 3} {
		if e, ok := s.get(k(i)); !ok || e != i {
			t.Errorf("k%d: %d, %v; want %d", i, e, ok, i)
		}
	}
	s.put(k(2), 7) // an update moves, never grows
	if e, _ := s.get(k(2)); e != 7 || s.len() != 3 {
		t.Errorf("after update: egress %d, %d entries", e, s.len())
	}
}

// TestRouterStickyIsBounded: a service that meets servers without end
// keeps at most the limit of (provider, server) pairs; a pair used
// recently keeps its egress, a forgotten one is routed afresh (not Moved).
func TestRouterStickyIsBounded(t *testing.T) {
	w := newRouterWorld(t, roomyProfiles, "127.0.0.2 name=a", "127.0.0.3 name=b")
	w.r.sticky.limit = 4
	// s1 is routed while a holds a session: it goes to b and sticks there.
	l0 := w.route(t, "google", "s0")
	l1 := w.route(t, "google", "s1")
	if l0.Egress.ID() != "a" || l1.Egress.ID() != "b" {
		t.Fatalf("s0 on %s, s1 on %s; want a, b", l0.Egress.ID(), l1.Egress.ID())
	}
	l0.Release()
	l1.Release()
	again := func(server string) *Lease {
		l := w.route(t, "google", server)
		l.Release()
		return l
	}
	if l := again("s1"); l.Egress.ID() != "b" {
		t.Fatalf("s1 did not stick to b: %s", l.Egress.ID())
	}
	for i := range 3 { // s1 stays among the 4 most recent
		again(fmt.Sprint("fill", i))
	}
	if l := again("s1"); l.Egress.ID() != "b" || l.Moved {
		t.Errorf("s1, recently used, on %s (Moved %v); want b", l.Egress.ID(), l.Moved)
	}
	for i := range 1000 {
		again(fmt.Sprint("other", i))
		if n := w.r.sticky.len(); n > 4 {
			t.Fatalf("%d sticky pairs after %d servers, limit 4", n, i+1)
		}
	}
	// s1 was forgotten: routed afresh to the egress with the fewest
	// sessions (a, first in order), which is no move.
	if l := again("s1"); l.Egress.ID() != "a" || l.Moved {
		t.Errorf("forgotten s1 on %s (Moved %v); want a, not moved", l.Egress.ID(), l.Moved)
	}
	if n := len(w.r.sticky.m); n != w.r.sticky.len() {
		t.Errorf("map %d, list %d: out of step", n, w.r.sticky.len())
	}
}
