package egress

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBudgetStoreMatchesMemory replays one random run of Takes, Checks and
// clock steps on a Budgets in memory and on one over a store: every answer
// and every Usage is the same, so the windows survive being written out
// and read back.
func TestBudgetStoreMatchesMemory(t *testing.T) {
	c := newClock()
	p := testProfiles(t, `{"profiles":[{"provider":"default","per_minute":7,"per_hour":40,"per_day":200,
	  "sources":{"per_minute":"test","per_hour":"test","per_day":"test"}}]}`)
	mem := &Budgets{Profiles: p, Now: c.Now}
	st := &Budgets{Profiles: p, Now: c.Now, Store: &MemBudgetStore{}}
	k := Key{Egress: "e", Provider: "p"}
	rng := rand.New(rand.NewPCG(1, 2))
	took := 0
	for i := range 4000 {
		n := 1 + rng.IntN(3)
		e1, e2 := mem.Take(k, n), st.Take(k, n)
		if (e1 == nil) != (e2 == nil) || e1 != nil && e1.Error() != e2.Error() {
			t.Fatalf("step %d: memory %v, store %v", i, e1, e2)
		}
		if e1 == nil {
			took++
		}
		if u1, u2 := mem.Usage(k), st.Usage(k); u1 != u2 {
			t.Fatalf("step %d: usage memory %+v, store %+v", i, u1, u2)
		}
		if c1, c2 := mem.Check(k, 2), st.Check(k, 2); (c1 == nil) != (c2 == nil) {
			t.Fatalf("step %d: check memory %v, store %v", i, c1, c2)
		}
		c.Advance(time.Duration(rng.IntN(90)) * time.Second)
	}
	if took < 150 {
		t.Fatalf("only %d takes succeeded; the run tells little", took)
	}
}

// TestBudgetStoreSharesOneBudget: four Budgets on one store (four
// workers declaring one egress) race to spend a budget of 50 a minute;
// exactly 50 commands are given, whatever the interleaving, and a fifth
// Budgets made afterwards (a restart) sees them spent.
func TestBudgetStoreSharesOneBudget(t *testing.T) {
	p := testProfiles(t, `{"profiles":[{"provider":"default","per_minute":50,"sources":{"per_minute":"test"}}]}`)
	store := &MemBudgetStore{}
	k := Key{Egress: "proxy", Provider: "google"}
	var given atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		b := &Budgets{Profiles: p, Store: store}
		wg.Go(func() {
			for range 40 {
				err := b.Take(k, 1)
				switch {
				case err == nil:
					given.Add(1)
				case !errors.Is(err, ErrExhausted):
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if g := given.Load(); g != 50 {
		t.Fatalf("%d commands given from a budget of 50", g)
	}
	again := &Budgets{Profiles: p, Store: store}
	if u := again.Usage(k); u.Minute != 50 {
		t.Errorf("after a restart: usage %+v, want 50 spent", u)
	}
	if err := again.Take(k, 1); !errors.Is(err, ErrExhausted) {
		t.Errorf("after a restart: Take = %v, want the budget spent", err)
	}
	alone := &Budgets{Profiles: p}
	if err := alone.Take(k, 1); err != nil {
		t.Errorf("a Budgets of its own: %v", err)
	}
}

// TestBudgetStoreSessions: sessions at once are one limit across the
// Budgets on a store; a release frees one; a hold its process stopped
// renewing (the process died) frees itself after SessionTTL; a held one
// is renewed and keeps counting past it.
func TestBudgetStoreSessions(t *testing.T) {
	c := newClock()
	p := testProfiles(t, `{"profiles":[{"provider":"default","sessions":2,"sources":{"sessions":"test"}}]}`)
	store := &MemBudgetStore{}
	k := Key{Egress: "proxy", Provider: "p"}
	a := &Budgets{Profiles: p, Store: store, Now: c.Now, SessionTTL: time.Hour}
	b := &Budgets{Profiles: p, Store: store, Now: c.Now, SessionTTL: time.Hour}
	r1, err := a.Acquire(k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Acquire(k); err != nil {
		t.Fatal(err) // b's hold is never released: b dies holding it
	}
	var ee *ExhaustedError
	if _, err := a.Acquire(k); !errors.As(err, &ee) || ee.Window != "sessions" {
		t.Fatalf("a third session: %v, want sessions spent", err)
	}
	if err := b.Check(k, 1); !errors.As(err, &ee) || ee.Window != "sessions" {
		t.Fatalf("Check: %v, want sessions spent", err)
	}
	r1()
	r1() // twice is once
	if u := b.Usage(k); u.Sessions != 1 {
		t.Fatalf("after a release: %d sessions, want 1", u.Sessions)
	}
	r3, err := a.Acquire(k)
	if err != nil {
		t.Fatalf("after a release: %v", err)
	}
	defer r3()
	c.Advance(2 * time.Hour) // b's hold expires; nobody renewed it on this clock
	if u := a.Usage(k); u.Sessions != 0 {
		t.Fatalf("after the TTL: %d sessions, want 0", u.Sessions)
	}

	// A hold kept renewed outlives SessionTTL.
	live := &Budgets{Profiles: p, Store: store, SessionTTL: 300 * time.Millisecond}
	rel, err := live.Acquire(Key{Egress: "proxy", Provider: "q"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if u := live.Usage(Key{Egress: "proxy", Provider: "q"}); u.Sessions != 1 {
		t.Errorf("a renewed hold after 3 TTLs: %d sessions, want 1", u.Sessions)
	}
	rel()
	if u := live.Usage(Key{Egress: "proxy", Provider: "q"}); u.Sessions != 0 {
		t.Errorf("after its release: %d sessions, want 0", u.Sessions)
	}
}

// failingStore fails every call.
type failingStore struct{}

var errDown = errors.New("store down")

func (failingStore) GetBudget(Key) (Spending, uint64, error)         { return Spending{}, 0, errDown }
func (failingStore) PutBudget(Key, Spending, uint64) (uint64, error) { return 0, errDown }

// TestBudgetStoreFailsClosed: a store out of reach gives no command, no
// session, and reports the pair spent.
func TestBudgetStoreFailsClosed(t *testing.T) {
	p := testProfiles(t, `{"profiles":[{"provider":"default","per_minute":5,"sessions":1,"sources":{"per_minute":"test","sessions":"test"}}]}`)
	b := &Budgets{Profiles: p, Store: failingStore{}}
	k := Key{Egress: "e", Provider: "p"}
	if err := b.Take(k, 1); !errors.Is(err, errDown) {
		t.Errorf("Take: %v", err)
	}
	if _, err := b.Acquire(k); !errors.Is(err, errDown) {
		t.Errorf("Acquire: %v", err)
	}
	if err := b.Check(k, 1); err == nil {
		t.Error("Check: nil")
	}
	if u := b.Usage(k); u.Minute != 5 || u.Sessions != 1 {
		t.Errorf("Usage: %+v, want the pair shown spent", u)
	}
}

// TestBudgetStoreClockSkew: two processes whose clocks differ by 5 s (more
// than a slot of the minute window) share a budget of 6 a minute: what
// the one ahead spent is never dropped by the one behind, and together
// they never get more than 6 within a minute.
func TestBudgetStoreClockSkew(t *testing.T) {
	c := newClock()
	ahead := func() time.Time { return c.Now().Add(5 * time.Second) }
	p := testProfiles(t, `{"profiles":[{"provider":"default","per_minute":6,"sources":{"per_minute":"test"}}]}`)
	store := &MemBudgetStore{}
	k := Key{Egress: "proxy", Provider: "p"}
	a := &Budgets{Profiles: p, Store: store, Now: ahead}
	b := &Budgets{Profiles: p, Store: store, Now: c.Now}
	if err := a.Take(k, 3); err != nil {
		t.Fatal(err)
	}
	if u := b.Usage(k); u.Minute != 3 {
		t.Fatalf("the process behind sees %d spent; want 3", u.Minute)
	}
	if err := b.Take(k, 3); err != nil {
		t.Fatal(err)
	}
	if err := a.Take(k, 1); !errors.Is(err, ErrExhausted) {
		t.Errorf("a 7th within the minute: %v", err)
	}
	if u := a.Usage(k); u.Minute != 6 {
		t.Errorf("the process ahead sees %d spent; want 6", u.Minute)
	}
}
