package egress

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func testProfiles(t *testing.T, json string) *Profiles {
	t.Helper()
	p, err := ParseProfiles(strings.NewReader(json))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const smallProfiles = `{"profiles": [
  {"provider": "default", "per_minute": 3, "per_hour": 5, "sessions": 1,
   "sources": {"per_minute": "test", "per_hour": "test", "sessions": "test"}},
  {"provider": "unlimited"}
]}`

func TestBudgetWindows(t *testing.T) {
	c := newClock()
	b := &Budgets{Profiles: testProfiles(t, smallProfiles), Now: c.Now}
	k := Key{Egress: "e", Provider: "p"}
	for i := range 3 {
		if err := b.Take(k, 1); err != nil {
			t.Fatalf("take %d: %v", i, err)
		}
	}
	err := b.Take(k, 1)
	var ee *ExhaustedError
	if !errors.As(err, &ee) || !errors.Is(err, ErrExhausted) || ee.Window != "minute" {
		t.Fatalf("4th in a minute: %v", err)
	}
	// The minute's first commands leave the window by 63 s (a 3 s slot).
	if d := ee.RetryAt.Sub(c.Now()); d < time.Minute || d > time.Minute+3*time.Second {
		t.Errorf("retry after %v, want a minute and at most one slot", d)
	}
	c.Advance(ee.RetryAt.Sub(c.Now()))
	if err := b.Take(k, 2); err != nil {
		t.Fatalf("after the refill: %v", err)
	}
	// Five in the hour: the hour window binds now.
	c.Advance(2 * time.Minute)
	err = b.Take(k, 1)
	if !errors.As(err, &ee) || ee.Window != "hour" {
		t.Fatalf("6th in an hour: %v", err)
	}
	if d := ee.RetryAt.Sub(c.Now()); d < 56*time.Minute || d > time.Hour {
		t.Errorf("hour retry after %v", d)
	}
	if u := b.Usage(k); u.Hour != 5 || u.Minute != 0 || u.Limits.PerHour != 5 {
		t.Errorf("Usage = %+v", u)
	}
	// Larger than the whole limit: never, said so.
	if err := b.Take(k, 4); !errors.As(err, &ee) || !ee.RetryAt.IsZero() {
		t.Errorf("over the whole limit: %v", err)
	}
	// Unlimited providers and other keys are not affected.
	if err := b.Take(Key{Egress: "e", Provider: "unlimited"}, 1000); err != nil {
		t.Errorf("unlimited: %v", err)
	}
	if err := b.Take(Key{Egress: "f", Provider: "p"}, 3); err != nil {
		t.Errorf("another egress: %v", err)
	}
}

// TestBudgetNeverExceedsSlidingWindow takes as fast as allowed at odd
// instants and checks every true 60 s window holds at most the limit.
func TestBudgetNeverExceedsSlidingWindow(t *testing.T) {
	c := newClock()
	b := &Budgets{Profiles: testProfiles(t, `{"profiles":[{"provider":"default","per_minute":7,"sources":{"per_minute":"test"}}]}`), Now: c.Now}
	k := Key{Egress: "e", Provider: "p"}
	var taken []time.Time
	for range 3000 {
		c.Advance(700 * time.Millisecond)
		if b.Take(k, 1) == nil {
			taken = append(taken, c.Now())
		}
	}
	for i := range taken {
		n := 0
		for j := i; j < len(taken) && taken[j].Sub(taken[i]) < time.Minute; j++ {
			n++
		}
		if n > 7 {
			t.Fatalf("%d commands within a minute from %v", n, taken[i])
		}
	}
	// And the budget is used: close to 7 a minute over the 35 minutes.
	if min := 35 * 7 * 95 / 100 * 60 / 63; len(taken) < min {
		t.Errorf("only %d taken in 35 minutes, want at least %d", len(taken), min)
	}
}

func TestBudgetSessions(t *testing.T) {
	c := newClock()
	b := &Budgets{Profiles: testProfiles(t, smallProfiles), Now: c.Now}
	k := Key{Egress: "e", Provider: "p"}
	rel, err := b.Acquire(k)
	if err != nil {
		t.Fatal(err)
	}
	var ee *ExhaustedError
	if _, err := b.Acquire(k); !errors.As(err, &ee) || ee.Window != "sessions" {
		t.Errorf("2nd session: %v", err)
	}
	if err := b.Check(k, 1); err == nil {
		t.Error("Check passed with the sessions spent")
	}
	rel()
	rel() // twice is harmless
	if u := b.Usage(k); u.Sessions != 0 {
		t.Errorf("sessions after release: %d", u.Sessions)
	}
	rel2, err := b.Acquire(k)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	rel2()
}

func TestBudgetConcurrent(t *testing.T) {
	c := newClock()
	b := &Budgets{Profiles: testProfiles(t, `{"profiles":[{"provider":"default","per_minute":100,"sessions":4,"sources":{"per_minute":"t","sessions":"t"}}]}`), Now: c.Now}
	k := Key{Egress: "e", Provider: "p"}
	var mu sync.Mutex
	took, peak, open := 0, 0, 0
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 50 {
				rel, err := b.Acquire(k)
				if err != nil {
					continue
				}
				mu.Lock()
				open++
				peak = max(peak, open)
				mu.Unlock()
				if b.Take(k, 1) == nil {
					mu.Lock()
					took++
					mu.Unlock()
				}
				mu.Lock()
				open--
				mu.Unlock()
				rel()
			}
		})
	}
	wg.Wait()
	if took != 100 || peak > 4 {
		t.Errorf("took %d (want exactly 100 in the frozen minute), peak sessions %d (max 4)", took, peak)
	}
}

func TestBudgetSweepForgetsIdle(t *testing.T) {
	c := newClock()
	b := &Budgets{Profiles: testProfiles(t, smallProfiles), Now: c.Now}
	b.Take(Key{Egress: "e", Provider: "old"}, 1)
	c.Advance(26 * time.Hour)
	for i := range 1100 {
		b.Check(Key{Egress: "e", Provider: "p" + string(rune('a'+i%3))}, 1)
	}
	b.mu.Lock()
	_, kept := b.m[Key{Egress: "e", Provider: "old"}]
	b.mu.Unlock()
	if kept {
		t.Error("an idle budget was kept")
	}
}
