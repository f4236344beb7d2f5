package mx

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// droppingResolver answers every MX question after delay, like a
// recursive server resolving it, and drops (never answers) a query that
// arrives while limit others are in flight, as a server with a full
// query table does; dropFirst also drops the first query of each name.
type droppingResolver struct {
	limit     int
	delay     time.Duration
	dropFirst bool

	inFlight, maxSeen, dropped atomic.Int64
	mu                         sync.Mutex
	seen                       map[string]bool
}

func (s *droppingResolver) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	name := q.Question[0].Name
	if s.dropFirst {
		s.mu.Lock()
		first := !s.seen[name]
		s.seen[name] = true
		s.mu.Unlock()
		if first {
			s.dropped.Add(1)
			return
		}
	}
	n := s.inFlight.Add(1)
	if n > int64(s.limit) {
		s.inFlight.Add(-1)
		s.dropped.Add(1)
		return
	}
	for {
		m := s.maxSeen.Load()
		if n <= m || s.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(s.delay)
	s.inFlight.Add(-1) // resolved: the answer leaves the table
	r := new(dns.Msg)
	r.SetReply(q)
	mxr, _ := dns.NewRR(name + " 300 IN MX 10 mx.example.test.")
	r.Answer = append(r.Answer, mxr)
	_ = w.WriteMsg(r)
}

// lookupMany asks n MX questions at once and returns how many failed.
func lookupMany(d *DNS, n int) int {
	var failed atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := d.LookupMX(context.Background(), "d"+itoa(i)+".test"); err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	return int(failed.Load())
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestDNSMaxInFlight: a burst of 120 lookups against a resolver that drops
// what exceeds 16 in flight. Bounded at 16, every lookup is answered and
// the server never sees more than 16; unbounded, the same burst loses
// answers to timeouts, which are counted.
func TestDNSMaxInFlight(t *testing.T) {
	t.Parallel()
	srv := &droppingResolver{limit: 16, delay: 20 * time.Millisecond}
	addr := serve(t, srv)
	d := &DNS{Servers: []string{addr}, Timeout: 2 * time.Second, Attempts: 1, MaxInFlight: 16}
	if failed := lookupMany(d, 120); failed != 0 {
		t.Errorf("bounded at the server's limit: %d of 120 lookups failed", failed)
	}
	if m := srv.maxSeen.Load(); m > 16 {
		t.Errorf("server saw %d queries in flight, want at most 16", m)
	}
	st := d.Stats()
	if st.Waits == 0 || st.Queries != 120 || st.Timeouts != 0 {
		t.Errorf("stats = %+v, want waits, 120 queries, no timeouts", st)
	}

	srv2 := &droppingResolver{limit: 16, delay: 20 * time.Millisecond}
	u := &DNS{Servers: []string{serve(t, srv2)}, Timeout: 300 * time.Millisecond, Attempts: 1, MaxInFlight: 1000}
	failed := lookupMany(u, 120)
	if failed == 0 || srv2.dropped.Load() == 0 {
		t.Fatalf("unbounded burst: %d failed, %d dropped; the server should have dropped some", failed, srv2.dropped.Load())
	}
	if st := u.Stats(); st.Timeouts != uint64(failed) {
		t.Errorf("unbounded burst: %d failed, stats %+v count other timeouts", failed, st)
	}
}

// TestDNSRetryWithinBudget: a query that times out is asked again within
// the caller's deadline, even when Timeout alone would use it all up, and
// on the next server when there are several. Retries are counted.
func TestDNSRetryWithinBudget(t *testing.T) {
	t.Parallel()
	srv := &droppingResolver{limit: 100, delay: time.Millisecond, dropFirst: true, seen: map[string]bool{}}
	d := &DNS{Servers: []string{serve(t, srv)}, Timeout: 2 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	// Success proves the split: a first try given the whole 2 s Timeout
	// would have used up the 1.5 s budget.
	if _, err := d.LookupMX(ctx, "slow.test"); err != nil {
		t.Fatalf("retry within a 1.5s budget: %v", err)
	}
	if st := d.Stats(); st.Retries != 1 || st.Timeouts != 1 || st.Queries != 2 {
		t.Errorf("stats = %+v, want 1 retry after 1 timeout, 2 queries", st)
	}

	dead := &droppingResolver{limit: 0}
	alive := &droppingResolver{limit: 100, delay: time.Millisecond}
	two := &DNS{Servers: []string{serve(t, dead), serve(t, alive)}, Timeout: 200 * time.Millisecond, Attempts: 1}
	if _, err := two.LookupMX(context.Background(), "next.test"); err != nil {
		t.Fatalf("next server after a timeout: %v", err)
	}
	if st := two.Stats(); st.Retries != 1 || dead.dropped.Load() != 1 {
		t.Errorf("stats = %+v, dead server dropped %d; want 1 retry on the second", st, dead.dropped.Load())
	}
}
