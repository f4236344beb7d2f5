package egress

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// healthDown is a health store whose calls fail with err once down is
// set (a cluster's KV that times out or is out of reach); it counts Gets.
type healthDown struct {
	MemStore
	down atomic.Bool
	err  error
	gets atomic.Int64
}

func (s *healthDown) Get(k Key) (Record, uint64, error) {
	s.gets.Add(1)
	if s.down.Load() {
		return Record{}, 0, s.err
	}
	return s.MemStore.Get(k)
}

func (s *healthDown) Put(k Key, r Record, rev uint64) (uint64, error) {
	if s.down.Load() {
		return 0, s.err
	}
	return s.MemStore.Put(k, r, rev)
}

// TestRouteHealthStoreDown: with the health store failing (a NATS KV
// timeout, or a connection that is gone), Route refuses with an
// *UnavailableError whose Err is a *StoreError naming the health store
// (errors.Is ErrStore, and the store's own error still reachable), Until
// StoreBackoff away, not Blocked: no session starts on a pair whose
// back-off cannot be read, and nothing is held against the egress. It
// reads the store once, not once per egress (each read may wait out the
// store's timeout). Before, the store's error came out bare, and verify
// ended the address unknown/timeout or unknown/connection_failed.
func TestRouteHealthStoreDown(t *testing.T) {
	for _, cause := range []error{
		fmt.Errorf("egress store: %w", context.DeadlineExceeded),
		errors.New("egress store: nats: connection closed"),
	} {
		t.Run(cause.Error(), func(t *testing.T) {
			st := &healthDown{err: cause}
			b := &Budgets{Profiles: testProfiles(t, `{"profiles":[{"provider":"default","per_minute":100,"sessions":2,"sources":{"per_minute":"test","sessions":"test"}}]}`)}
			r, err := NewRouter([]Egress{{Name: "a"}, {Name: "b"}, {Name: "c"}}, &Health{Store: st}, b)
			if err != nil {
				t.Fatal(err)
			}
			st.down.Store(true)
			before := time.Now()
			l, err := r.Route("google", "192.0.2.1:25")
			if l != nil {
				t.Fatalf("Route gave a lease (%s) with the health store down", l.Egress.ID())
			}
			var ue *UnavailableError
			var se *StoreError
			switch {
			case !errors.As(err, &ue):
				t.Fatalf("Route: %v (%T); want an *UnavailableError", err, err)
			case !errors.As(err, &se) || se.Store != "health" || !errors.Is(err, ErrStore) || !errors.Is(err, cause):
				t.Errorf("Route: %v; want a *StoreError of the health store wrapping %v", err, cause)
			case ue.Blocked || ue.NoEgress:
				t.Errorf("Route: %+v; a store that fails says nothing against the egress (not blocked)", ue)
			case ue.Until.Before(before.Add(StoreBackoff)) || ue.Until.After(time.Now().Add(StoreBackoff)):
				t.Errorf("Route: Until %v, want StoreBackoff (%v) from now", ue.Until.Sub(before), StoreBackoff)
			}
			if n := st.gets.Load(); n != 1 {
				t.Errorf("the health store was read %d times; want once (one store serves every egress)", n)
			}
			if u := b.Usage(Key{Egress: "a", Provider: "google"}); u.Sessions != 0 {
				t.Errorf("%d sessions held after the refusal", u.Sessions)
			}
			st.down.Store(false)
			l, err = r.Route("google", "192.0.2.1:25")
			if err != nil {
				t.Fatalf("Route with the store back: %v", err)
			}
			l.Release()
		})
	}
}

// TestStoreErrorKinds: every failure of a store that reaches a caller is
// a *StoreError naming its store; a budget's refusal is not one.
func TestStoreErrorKinds(t *testing.T) {
	k := Key{Egress: "e", Provider: "p"}
	st := &healthDown{err: errDown}
	st.down.Store(true)
	h := &Health{Store: st}
	if _, _, err := h.BackedOff(k); !isStoreErr(err, "health") {
		t.Errorf("BackedOff: %v", err)
	}
	if _, err := h.Admit(k); !isStoreErr(err, "health") {
		t.Errorf("Admit: %v", err)
	}
	if _, err := h.State(k); !isStoreErr(err, "health") {
		t.Errorf("State: %v", err)
	}
	p := testProfiles(t, `{"profiles":[{"provider":"default","per_minute":1,"sessions":1,"sources":{"per_minute":"test","sessions":"test"}}]}`)
	r, err := NewRouter([]Egress{{Name: "e"}}, nil, &Budgets{Profiles: p, Store: failingStore{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Route("p", "192.0.2.1:25"); !isStoreErr(err, "budget") {
		t.Errorf("Route, budget store down: %v", err)
	}
	r, _ = NewRouter([]Egress{{Name: "e"}}, nil, &Budgets{Profiles: p})
	l, err := r.Route("p", "192.0.2.1:25")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if err := l.Take(1); err != nil {
		t.Fatal(err)
	}
	if err := l.Take(1); !errors.Is(err, ErrExhausted) || errors.Is(err, ErrStore) {
		t.Errorf("Take past the budget: %v; want ErrExhausted, not a store failure", err)
	}
}

func isStoreErr(err error, store string) bool {
	var se *StoreError
	return errors.As(err, &se) && se.Store == store && errors.Is(err, ErrStore) && errors.Is(err, se.Err)
}
