package jobs

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/verify"
)

func budgetProfiles(t testing.TB, json string) *egress.Profiles {
	t.Helper()
	p, err := egress.ParseProfiles(strings.NewReader(json))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBudgetStoreKV: Budgets on the KV stores of two connections (two
// workers) race to spend one budget of 30 commands a minute and 2
// sessions at once: exactly 30 are given and never a third session; a
// Budgets made afterwards (a restart) sees them spent.
func TestBudgetStoreKV(t *testing.T) {
	ns := startNATS(t)
	p := budgetProfiles(t, `{"profiles":[{"provider":"default","per_minute":30,"sessions":2,
	  "sources":{"per_minute":"test","sessions":"test"}}]}`)
	k := egress.Key{Egress: "socks5://proxy.example:1080", Provider: "google"}
	var stores []*EgressStore
	for range 2 {
		cfg := testBus
		cfg.URL = ns.ClientURL()
		b := openBus(t, cfg)
		t.Cleanup(b.Close)
		s, err := b.NewEgressStore(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, s)
	}
	var given, sessions, most atomic.Int64
	var wg sync.WaitGroup
	for i := range 4 {
		b := &egress.Budgets{Profiles: p, Store: stores[i%2]}
		wg.Go(func() {
			for takes := 0; takes < 15; takes++ { // 60 in all
				release, err := b.Acquire(k)
				if err != nil {
					if !errors.Is(err, egress.ErrExhausted) {
						t.Error(err)
						return
					}
					takes--
					time.Sleep(time.Millisecond)
					continue
				}
				if n := sessions.Add(1); n > most.Load() {
					most.Store(n)
				}
				err = b.Take(k, 1)
				switch {
				case err == nil:
					given.Add(1)
				case !errors.Is(err, egress.ErrExhausted):
					t.Error(err)
				}
				sessions.Add(-1)
				release()
			}
		})
	}
	wg.Wait()
	if g := given.Load(); g != 30 {
		t.Errorf("%d commands given from one budget of 30", g)
	}
	if m := most.Load(); m > 2 {
		t.Errorf("%d sessions at once; the limit is 2", m)
	}
	again := &egress.Budgets{Profiles: p, Store: stores[1]}
	if u := again.Usage(k); u.Minute != 30 || u.Sessions != 0 {
		t.Errorf("after a restart: %+v, want 30 spent and no session held", u)
	}
}

// BenchmarkBudgetTake is what one Take costs, the budget in memory
// against the cluster's KV (one NATS server on loopback: a Get and a
// compare-and-set Update). The engine takes once per flush (many RCPTs),
// and reads the pair's Usage twice per flush to size it: "flush" is
// those three calls.
func BenchmarkBudgetTake(b *testing.B) {
	ns := startNATS(b)
	p := budgetProfiles(b, `{"profiles":[{"provider":"default","per_minute":100000000,
	  "sources":{"per_minute":"test"}}]}`)
	cfg := testBus
	cfg.URL = ns.ClientURL()
	bus := openBus(b, cfg)
	defer bus.Close()
	store, err := bus.NewEgressStore(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	k := egress.Key{Egress: "proxy", Provider: "google"}
	for _, c := range []struct {
		name string
		b    *egress.Budgets
	}{{"memory", &egress.Budgets{Profiles: p}}, {"kv", &egress.Budgets{Profiles: p, Store: store}}} {
		b.Run("take/"+c.name, func(b *testing.B) {
			for b.Loop() {
				if err := c.b.Take(k, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("flush/"+c.name, func(b *testing.B) {
			for b.Loop() {
				_ = c.b.Usage(k)
				_ = c.b.Usage(k)
				if err := c.b.Take(k, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// countingStore counts the budget store's calls.
type countingStore struct {
	*EgressStore
	calls atomic.Int64
}

func (s *countingStore) GetBudget(k egress.Key) (egress.Spending, uint64, error) {
	s.calls.Add(1)
	return s.EgressStore.GetBudget(k)
}

func (s *countingStore) PutBudget(k egress.Key, sp egress.Spending, rev uint64) (uint64, error) {
	s.calls.Add(1)
	return s.EgressStore.PutBudget(k, sp, rev)
}

// BenchmarkBudgetPerRCPT verifies 40 domains' addresses (jane@ and
// nobody@ each) on one loopback server through one egress, its budget in
// memory and in the cluster's KV: the KV round trips per RCPT the server
// saw, and the wall time per address.
func BenchmarkBudgetPerRCPT(b *testing.B) {
	ns := startNATS(b)
	cfg := testBus
	cfg.URL = ns.ClientURL()
	bus := openBus(b, cfg)
	defer bus.Close()
	kv, err := bus.NewEgressStore(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	w := newEgressWorld(b, "")
	for _, mode := range []string{"memory", "kv"} {
		b.Run(mode, func(b *testing.B) {
			var rcpts, addrs, calls int64
			for i := 0; b.Loop(); i++ {
				v := w.verifier(sharedEgress)
				cs := &countingStore{EgressStore: kv}
				if mode == "kv" {
					v.EgressStore = cs
				}
				in := w.domains(fmt.Sprintf("b%s%d-", mode, i), "mx.plain-host.test", 40)
				before := w.seen(w.rcpts, "plain 127.0.0.2")
				for _, r := range v.VerifySeq(b.Context(), slices.Values(in)) {
					if r.Status == verify.Unknown {
						b.Fatalf("%s: %s/%s", r.Address, r.Status, r.Reason)
					}
				}
				rcpts += int64(w.seen(w.rcpts, "plain 127.0.0.2") - before)
				addrs += int64(len(in))
				calls += cs.calls.Load()
			}
			b.ReportMetric(float64(calls)/float64(rcpts), "kv-calls/rcpt")
			b.ReportMetric(float64(rcpts)/float64(addrs), "rcpt/addr")
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(addrs), "µs/addr")
		})
	}
}
