package egress

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var (
	throttle = Reply{Stage: StageMail, Code: 421, Enhanced: "4.7.0", Text: "[TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints"}
	ban      = Reply{Stage: StageRcpt, Code: 550, Enhanced: "5.7.606", Text: "Access denied, banned sending IP [192.0.2.1]."}
	openRes  = Reply{Stage: StageRcpt, Code: 554, Enhanced: "5.7.1", Text: "Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; Error: open resolver"}
)

func newHealth(c *fakeClock) (*Health, *[]EgressEvent) {
	var mu sync.Mutex
	var evs []EgressEvent
	h := &Health{Now: c.Now, Hook: func(e EgressEvent) {
		mu.Lock()
		evs = append(evs, e)
		mu.Unlock()
	}}
	return h, &evs
}

// step is one action on the state machine and what must follow.
type step struct {
	advance time.Duration
	do      string // "admit", "throttle", "ban", "soft", "openres", "success", "endprobe"
	ok      bool   // for admit: allowed
	probe   bool   // for admit: as the probe
	state   State  // the state after the step
	until   time.Duration
}

func TestHealthStateMachine(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"throttle backs off, then half-open probe recovers", []step{
			{do: "admit", ok: true, state: StateHealthy},
			{do: "throttle", state: StateThrottled, until: 2 * time.Minute},
			{advance: time.Minute, do: "admit", ok: false, state: StateThrottled},
			{advance: time.Minute, do: "admit", ok: true, probe: true, state: StateHalfOpen},
			{do: "admit", ok: false, state: StateHalfOpen},
			{do: "success", state: StateHealthy},
			{do: "admit", ok: true, state: StateHealthy},
		}},
		{"a block starts at the third tier and a failed probe climbs", []step{
			{do: "ban", state: StateBlocked, until: time.Hour},
			{advance: time.Hour, do: "admit", ok: true, probe: true, state: StateHalfOpen},
			{do: "ban", state: StateBlocked, until: 6 * time.Hour},
			{advance: 6 * time.Hour, do: "admit", ok: true, probe: true, state: StateHalfOpen},
			{do: "throttle", state: StateThrottled, until: 24 * time.Hour},
			{advance: 24 * time.Hour, do: "admit", ok: true, probe: true, state: StateHalfOpen},
			{do: "ban", state: StateBlocked, until: 24 * time.Hour}, // the ladder's top repeats
		}},
		{"a severer verdict replaces a milder one; a milder one changes nothing", []step{
			{do: "throttle", state: StateThrottled, until: 2 * time.Minute},
			{do: "throttle", state: StateThrottled, until: 2 * time.Minute},
			{do: "ban", state: StateBlocked, until: time.Hour},
			{do: "throttle", state: StateBlocked, until: time.Hour},
		}},
		{"soft limit starts at 15 minutes", []step{
			{do: "soft", state: StateSoftLimited, until: 15 * time.Minute},
			{advance: 15 * time.Minute, do: "admit", ok: true, probe: true, state: StateHalfOpen},
			{do: "success", state: StateHealthy},
		}},
		{"a relapse within a day continues the ladder, after a day starts over", []step{
			{do: "throttle", state: StateThrottled, until: 2 * time.Minute},
			{advance: 2 * time.Minute, do: "admit", ok: true, probe: true, state: StateHalfOpen},
			{do: "success", state: StateHealthy},
			{advance: time.Hour, do: "throttle", state: StateThrottled, until: 15 * time.Minute},
			{advance: 15 * time.Minute, do: "admit", ok: true, probe: true, state: StateHalfOpen},
			{do: "success", state: StateHealthy},
			{advance: 25 * time.Hour, do: "throttle", state: StateThrottled, until: 2 * time.Minute},
		}},
		{"the receiver's misconfiguration is no mark", []step{
			{do: "openres", state: StateHealthy},
			{do: "admit", ok: true, state: StateHealthy},
		}},
		{"a lost probe is given again after the probe timeout, or at once when ended", []step{
			{do: "throttle", state: StateThrottled},
			{advance: 2 * time.Minute, do: "admit", ok: true, probe: true, state: StateHalfOpen},
			{advance: 9 * time.Minute, do: "admit", ok: false, state: StateHalfOpen},
			{advance: time.Minute, do: "admit", ok: true, probe: true, state: StateHalfOpen},
			{do: "endprobe", state: StateHalfOpen},
			{do: "admit", ok: true, probe: true, state: StateHalfOpen},
		}},
		{"success while healthy or backed off changes nothing", []step{
			{do: "success", state: StateHealthy},
			{do: "throttle", state: StateThrottled, until: 2 * time.Minute},
			{do: "success", state: StateThrottled, until: 2 * time.Minute},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			h, _ := newHealth(c)
			k := Key{Egress: "192.0.2.1", Provider: "yahoo"}
			for i, s := range tc.steps {
				c.Advance(s.advance)
				var err error
				switch s.do {
				case "admit":
					var a Admission
					a, err = h.Admit(k)
					if a.OK != s.ok || a.Probe != s.probe {
						t.Fatalf("step %d: Admit = %+v, want OK %v Probe %v", i, a, s.ok, s.probe)
					}
					if !a.OK && !a.Until.After(c.Now()) {
						t.Fatalf("step %d: refused without a future Until: %+v", i, a)
					}
				case "throttle":
					_, err = h.Observe(k, "mx.example", throttle)
				case "ban":
					_, err = h.Observe(k, "mx.example", ban)
				case "openres":
					_, err = h.Observe(k, "mx.example", openRes)
				case "soft":
					err = h.Report(k, Evidence{Finding: Finding{Verdict: SoftLimited}})
				case "success":
					err = h.Success(k)
				case "endprobe":
					err = h.EndProbe(k)
				}
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				r, _ := h.State(k)
				if r.State != s.state {
					t.Fatalf("step %d (%s): state %v, want %v", i, s.do, r.State, s.state)
				}
				if s.until > 0 && r.Until.Sub(r.Since) != s.until {
					t.Fatalf("step %d (%s): back-off %v, want %v", i, s.do, r.Until.Sub(r.Since), s.until)
				}
			}
		})
	}
}

func TestHealthEvents(t *testing.T) {
	c := newClock()
	h, evs := newHealth(c)
	k := Key{Egress: "ms-a", Provider: "microsoft365"}
	if _, err := h.Observe(k, "contoso-com.mail.protection.outlook.com", ban); err != nil {
		t.Fatal(err)
	}
	h.Observe(k, "contoso-com.mail.protection.outlook.com", ban) // same episode: no event
	c.Advance(time.Hour)
	h.Admit(k)
	h.Success(k)
	want := []struct{ from, to State }{{StateHealthy, StateBlocked}, {StateBlocked, StateHalfOpen}, {StateHalfOpen, StateHealthy}}
	if len(*evs) != len(want) {
		t.Fatalf("events %+v, want %d", *evs, len(want))
	}
	for i, w := range want {
		e := (*evs)[i]
		if e.From != w.from || e.To != w.to || e.Egress != "ms-a" || e.Provider != "microsoft365" || e.Time.IsZero() {
			t.Errorf("event %d = %+v, want %v → %v", i, e, w.from, w.to)
		}
	}
	first := (*evs)[0]
	if first.Evidence == nil || first.Evidence.Host != "contoso-com.mail.protection.outlook.com" ||
		first.Evidence.Reply.Enhanced != "5.7.606" || first.Evidence.Finding.Rule != "ms-banned-ip" || first.Until.IsZero() {
		t.Errorf("the block's evidence: %+v", first.Evidence)
	}
	snap, err := h.Snapshot()
	if err != nil || len(snap) != 1 || snap[0].State != StateHealthy || snap[0].Meaning == "" {
		t.Errorf("Snapshot = %+v, %v", snap, err)
	}
	b, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	var back []Status
	if err := json.Unmarshal(b, &back); err != nil || back[0].State != StateHealthy || back[0].Tier != 3 {
		t.Errorf("the snapshot does not survive JSON: %s, %v", b, err)
	}
}

// conflictStore fails the first Puts with ErrConflict, as a shared KV
// does when another worker wrote first.
type conflictStore struct {
	MemStore
	fail int
}

func (s *conflictStore) Put(k Key, r Record, rev uint64) (uint64, error) {
	if s.fail > 0 {
		s.fail--
		s.MemStore.Put(k, Record{State: StateThrottled, Tier: 1, Until: r.Since.Add(time.Minute), Since: r.Since}, rev)
		return 0, ErrConflict
	}
	return s.MemStore.Put(k, r, rev)
}

func TestHealthRetriesConflicts(t *testing.T) {
	c := newClock()
	st := &conflictStore{fail: 1}
	h := &Health{Now: c.Now, Store: st}
	k := Key{Egress: "e", Provider: "google"}
	if _, err := h.Observe(k, "", ban); err != nil {
		t.Fatal(err)
	}
	// The other writer's throttle was read again and the block replaced it.
	if r, _ := h.State(k); r.State != StateBlocked {
		t.Errorf("state %v after a conflict, want blocked", r.State)
	}
	st.fail = 100
	if _, err := h.Observe(Key{Egress: "e", Provider: "yahoo"}, "", ban); !errors.Is(err, ErrStoreBusy) {
		t.Errorf("endless conflicts: %v, want ErrStoreBusy", err)
	}
}

func TestMemStoreRevisions(t *testing.T) {
	var s MemStore
	k := Key{Egress: "e", Provider: "p"}
	if _, err := s.Put(k, Record{}, 5); !errors.Is(err, ErrConflict) {
		t.Errorf("Put at a revision of an absent key: %v", err)
	}
	rev, err := s.Put(k, Record{Tier: 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(k, Record{Tier: 2}, 0); !errors.Is(err, ErrConflict) {
		t.Errorf("create over an existing key: %v", err)
	}
	if _, err := s.Put(k, Record{Tier: 2}, rev); err != nil {
		t.Errorf("update at the current revision: %v", err)
	}
	if r, _, _ := s.Get(k); r.Tier != 2 {
		t.Errorf("Get = %+v", r)
	}
}

func TestHealthConcurrent(t *testing.T) {
	c := newClock()
	h, evs := newHealth(c)
	k := Key{Egress: "e", Provider: "google"}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				h.Admit(k)
				h.Observe(k, "", throttle)
				c.Advance(time.Second)
				h.Success(k)
			}
		})
	}
	wg.Wait()
	// An event from a state to itself is a renewed back-off: a refusal
	// after the back-off ended, from a session admitted before it began
	// (a tier further, a new Until, its evidence). Nothing else repeats
	// its state.
	for _, e := range *evs {
		if e.From == e.To && (!e.To.Adverse() || e.Evidence == nil || e.Until.IsZero()) {
			t.Fatalf("an event without a change: %+v", e)
		}
	}
}
