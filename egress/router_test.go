package egress

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

type routerWorld struct {
	c      *fakeClock
	r      *Router
	events *[]EgressEvent
}

func newRouterWorld(t *testing.T, profiles string, specs ...string) *routerWorld {
	t.Helper()
	c := newClock()
	h, evs := newHealth(c)
	var es []Egress
	for _, s := range specs {
		e, err := parseLine(s)
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
	}
	b := &Budgets{Profiles: testProfiles(t, profiles), Now: c.Now}
	r, err := NewRouter(es, h, b)
	if err != nil {
		t.Fatal(err)
	}
	return &routerWorld{c: c, r: r, events: evs}
}

const roomyProfiles = `{"profiles":[{"provider":"default","per_minute":5,"sessions":2,"sources":{"per_minute":"t","sessions":"t"}}]}`

func (w *routerWorld) route(t *testing.T, provider, server string) *Lease {
	t.Helper()
	l, err := w.r.Route(provider, server)
	if err != nil {
		t.Fatalf("Route(%q, %q): %v", provider, server, err)
	}
	return l
}

func TestRouterZeroIsDirect(t *testing.T) {
	r, err := NewRouter(nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := r.Route("", "192.0.2.25")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if l.Egress.ID() != "direct" || l.Key.Provider != "server:192.0.2.25" {
		t.Errorf("lease %+v", l.Key)
	}
}

func TestRouterPins(t *testing.T) {
	w := newRouterWorld(t, roomyProfiles,
		"127.0.0.2 name=ms-a providers=microsoft365",
		"127.0.0.3 name=ms-b providers=microsoft365",
		"127.0.0.4 name=rest",
		"127.0.0.5 name=both providers=outlook,*")
	for _, tc := range []struct {
		provider string
		allowed  []string
	}{
		{"microsoft365", []string{"ms-a", "ms-b"}},
		{"google", []string{"rest", "both"}},
		{"outlook", []string{"both"}},
		{"", []string{"rest", "both"}},
	} {
		seen := map[string]bool{}
		var leases []*Lease
		for i := range 4 {
			l, err := w.r.Route(tc.provider, netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}).String())
			if err != nil {
				break
			}
			leases = append(leases, l)
			seen[l.Egress.ID()] = true
		}
		for id := range seen {
			found := false
			for _, a := range tc.allowed {
				found = found || a == id
			}
			if !found {
				t.Errorf("%s routed through %s; allowed %v", tc.provider, id, tc.allowed)
			}
		}
		if tc.provider != "" && len(seen) != len(tc.allowed) {
			t.Errorf("%s used %v, want all of %v (spread by sessions in use)", tc.provider, seen, tc.allowed)
		}
		for _, l := range leases {
			l.Release()
		}
	}
}

func TestRouterStickyAndMoves(t *testing.T) {
	w := newRouterWorld(t, roomyProfiles, "127.0.0.2 name=a", "127.0.0.3 name=b")
	l1 := w.route(t, "google", "s1")
	l2 := w.route(t, "google", "s2")
	if l1.Egress.ID() == l2.Egress.ID() {
		t.Fatalf("two servers on one egress while the other is idle: %s", l1.Egress.ID())
	}
	first := map[string]string{"s1": l1.Egress.ID(), "s2": l2.Egress.ID()}
	l1.Release()
	l2.Release()
	// Each server keeps its egress, though both are idle again.
	for range 3 {
		for _, s := range []string{"s2", "s1"} {
			l := w.route(t, "google", s)
			if l.Egress.ID() != first[s] || l.Moved {
				t.Errorf("%s moved to %s (Moved %v); was on %s", s, l.Egress.ID(), l.Moved, first[s])
			}
			l.Release()
		}
	}
	// s1's egress is throttled by google: s1 moves, and says so.
	l := w.route(t, "google", "s1")
	f, err := l.Observe("aspmx.l.google.com", Reply{Stage: StageRcpt, Code: 421, Enhanced: "4.7.28", Text: "Our system has detected an unusual rate of unsolicited mail originating from your IP address. gsmtp"})
	if err != nil || f.Verdict != Throttled {
		t.Fatalf("Observe: %v, %v", f, err)
	}
	l.Release()
	l = w.route(t, "google", "s1")
	if l.Egress.ID() == first["s1"] || !l.Moved {
		t.Errorf("s1 stayed on its throttled egress %s (Moved %v)", l.Egress.ID(), l.Moved)
	}
	l.Release()
	// Other providers are not affected by google's throttle.
	l = w.route(t, "yahoo", "y1")
	l.Release()
	if len(*w.events) != 1 || (*w.events)[0].To != StateThrottled {
		t.Errorf("events %+v", *w.events)
	}
}

func TestRouterAllBlockedThenProbe(t *testing.T) {
	w := newRouterWorld(t, roomyProfiles, "127.0.0.2 name=a", "127.0.0.3 name=b")
	for i, id := range []string{"a", "b"} {
		w.c.Advance(time.Duration(i) * time.Minute)
		w.r.Health().Observe(Key{Egress: id, Provider: "microsoft365"}, "mx", ban)
	}
	_, err := w.r.Route("microsoft365", "s")
	var ue *UnavailableError
	if !errors.As(err, &ue) || !ue.Blocked || ue.NoEgress {
		t.Fatalf("all blocked: %v", err)
	}
	// a was blocked first: it is free first, an hour after its block.
	if want := w.c.Now().Add(time.Hour - time.Minute); !ue.Until.Equal(want) {
		t.Errorf("Until %v, want %v", ue.Until, want)
	}
	w.c.Advance(time.Hour - time.Minute)
	l := w.route(t, "microsoft365", "s")
	if l.Egress.ID() != "a" || !l.Probe {
		t.Fatalf("after a's back-off: %s probe %v", l.Egress.ID(), l.Probe)
	}
	// Only one probe at a time.
	if _, err := w.r.Route("microsoft365", "s"); !errors.As(err, &ue) || !ue.Blocked {
		t.Errorf("a second session during the probe: %v", err)
	}
	l.Release() // reported nothing: the probe is given back
	l = w.route(t, "microsoft365", "s")
	if !l.Probe {
		t.Error("the probe was not given back")
	}
	if err := l.Success(); err != nil {
		t.Fatal(err)
	}
	l.Release()
	if r, _ := w.r.Health().State(Key{Egress: "a", Provider: "microsoft365"}); r.State != StateHealthy {
		t.Errorf("a after its probe's success: %v", r.State)
	}
}

func TestRouterExhausted(t *testing.T) {
	w := newRouterWorld(t, `{"profiles":[{"provider":"default","per_minute":2,"sessions":1,"sources":{"per_minute":"t","sessions":"t"}}]}`,
		"127.0.0.2 name=a", "127.0.0.3 name=b")
	la := w.route(t, "yahoo", "s")
	lb := w.route(t, "yahoo", "s")
	_, err := w.r.Route("yahoo", "s")
	var ue *UnavailableError
	if !errors.As(err, &ue) || ue.Blocked || !ue.Until.IsZero() {
		t.Fatalf("sessions spent: %v", err)
	}
	// Egresses multiply tolerance: two egresses take twice the commands.
	took := 0
	for _, l := range []*Lease{la, lb} {
		for l.Take(1) == nil {
			took++
		}
	}
	if took != 4 {
		t.Errorf("two egresses took %d commands in a minute, want 2×2", took)
	}
	la.Release()
	lb.Release()
	_, err = w.r.Route("yahoo", "s")
	if !errors.As(err, &ue) || ue.Blocked || ue.Until.IsZero() || ue.Until.Sub(w.c.Now()) > time.Minute+3*time.Second {
		t.Fatalf("commands spent: %v", err)
	}
	w.c.Advance(ue.Until.Sub(w.c.Now()))
	w.route(t, "yahoo", "s").Release()
}

func TestRouterErrorsAndSnapshot(t *testing.T) {
	if _, err := NewRouter([]Egress{{}, {}}, nil, nil); !errors.Is(err, ErrDuplicate) {
		t.Errorf("two direct egresses: %v", err)
	}
	w := newRouterWorld(t, roomyProfiles, "127.0.0.2 name=a providers=google")
	var ue *UnavailableError
	if _, err := w.r.Route("yahoo", "s"); !errors.As(err, &ue) || !ue.NoEgress {
		t.Errorf("no egress for yahoo: %v", err)
	}
	l := w.route(t, "google", "s")
	l.Take(2)
	l.Observe("mx", throttle)
	snap, err := w.r.Snapshot()
	if err != nil || len(snap) != 1 || len(snap[0].Pairs) != 1 {
		t.Fatalf("Snapshot = %+v, %v", snap, err)
	}
	p := snap[0].Pairs[0]
	if p.State != StateThrottled || p.Used.Minute != 2 || p.Used.Sessions != 1 || p.Evidence == nil {
		t.Errorf("pair %+v", p)
	}
	l.Release()
}

func TestLeaseSoftLimited(t *testing.T) {
	w := newRouterWorld(t, roomyProfiles, "127.0.0.2 name=a")
	l := w.route(t, "google", "s")
	if err := l.SoftLimited("aspmx.l.google.com", Reply{Stage: StageRcpt, Code: 250, Enhanced: "2.1.5", Text: "OK"}); err != nil {
		t.Fatal(err)
	}
	l.Release()
	r, _ := w.r.Health().State(l.Key)
	if r.State != StateSoftLimited || r.Until.Sub(r.Since) != 15*time.Minute || r.Evidence.Finding.Rule != "canary-accepted" {
		t.Errorf("after an accepted canary: %+v", r)
	}
}

// TestRouterBlockedBeatsSpent: an egress both backed off and out of
// budget counts as backed off, so a provider whose egresses are all
// blocked is reported blocked.
func TestRouterBlockedBeatsSpent(t *testing.T) {
	w := newRouterWorld(t, `{"profiles":[{"provider":"default","per_minute":1,"sources":{"per_minute":"t"}}]}`, "127.0.0.2 name=a")
	l := w.route(t, "yahoo", "s")
	l.Take(1)
	l.Observe("mx", ban)
	l.Release()
	_, err := w.r.Route("yahoo", "s")
	var ue *UnavailableError
	if !errors.As(err, &ue) || !ue.Blocked || !ue.Until.Equal(w.c.Now().Add(time.Hour)) {
		t.Errorf("blocked and spent: %v", err)
	}
}
