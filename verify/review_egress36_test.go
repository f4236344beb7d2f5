package verify

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/mx"
	"github.com/mailverify/mailverify/smtpprobe"
)

// hangHealth is a health store whose every call blocks until release is
// closed: a cluster KV without a client-side timeout, or one whose
// timeout is longer than the caller's budget. egress.Store takes no ctx.
type hangHealth struct{ release chan struct{} }

func (s hangHealth) Get(egress.Key) (egress.Record, uint64, error) {
	<-s.release
	return egress.Record{}, 0, errors.New("store: gave up")
}
func (s hangHealth) Put(egress.Key, egress.Record, uint64) (uint64, error) {
	<-s.release
	return 0, errors.New("store: gave up")
}
func (s hangHealth) List() ([]egress.Entry, error) {
	<-s.release
	return nil, errors.New("store: gave up")
}

// TestReviewHangingHealthStore (rev-egress): a health store that hangs
// must not hold an address past its deadline; the address ends unknown
// (claim: rate_limited with retry_after), never a definite verdict.
func TestReviewHangingHealthStore(t *testing.T) {
	w := newEgressWorld(t, "", sourceRule{})
	v, _ := w.verifier(t, 2, generous)
	v.Timeout = time.Second
	hs := hangHealth{release: make(chan struct{})}
	var once sync.Once
	stop := func() { once.Do(func() { close(hs.release) }) }
	t.Cleanup(stop)
	timer := time.AfterFunc(15*time.Second, stop) // the test itself never hangs
	defer timer.Stop()
	v.EgressStore = hs
	start := time.Now()
	res := w.check(t, v)
	took := time.Since(start)
	if took > 3*time.Second {
		t.Errorf("VerifyAll took %v with Timeout 1s: a hanging health store held the addresses past their deadline", took)
	}
	for a, r := range res {
		if time.Duration(r.Duration) > 1500*time.Millisecond {
			t.Errorf("%s took %v with Timeout 1s: a hanging health store held it past its deadline", a, time.Duration(r.Duration))
		}
		if r.Status != Unknown {
			t.Errorf("%s: %s/%s with the health store hanging; want unknown", a, r.Status, r.Reason)
		} else if r.Reason != ReasonRateLimited {
			t.Logf("%s: %s/%s (%v)", a, r.Status, r.Reason, r.Err)
		}
	}
}

// flakyVerifier is w's verifier with sessions per egress, a Timeout of
// 5 s and a flakyHealth store failing every nth call, and every call
// from downAt on (0: never).
func (w *egressWorld) flakyVerifier(t *testing.T, sessions int, n int64, downAt time.Duration) *Verifier {
	v, _ := w.verifier(t, sessions, generous)
	v.Timeout = 5 * time.Second
	hs := &flakyHealth{n: n}
	v.EgressStore = hs
	if downAt > 0 {
		tm := time.AfterFunc(downAt, func() { hs.down.Store(true) })
		t.Cleanup(func() { tm.Stop() })
	}
	return v
}

// flakyHealth fails every nth call, and every call once down is set.
type flakyHealth struct {
	egress.MemStore
	n    int64
	c    atomic.Int64
	down atomic.Bool
}

var errFlaky = errors.New("store: nats: timeout")

func (s *flakyHealth) fail() bool {
	return s.down.Load() || (s.n > 0 && s.c.Add(1)%s.n == 0)
}
func (s *flakyHealth) Get(k egress.Key) (egress.Record, uint64, error) {
	if s.fail() {
		return egress.Record{}, 0, errFlaky
	}
	return s.MemStore.Get(k)
}
func (s *flakyHealth) Put(k egress.Key, r egress.Record, rev uint64) (uint64, error) {
	if s.fail() {
		return 0, errFlaky
	}
	return s.MemStore.Put(k, r, rev)
}

// TestReviewFlakyHealthStore (rev-egress): a health store that fails now
// and then, or from some point mid-run: no address gets a wrong verdict
// (w.check), every address comes back, and an unknown from the store is
// rate_limited with retry_after and an *egress.StoreError.
func TestReviewFlakyHealthStore(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n      int64
		downAt time.Duration
	}{{"every3rd", 3, 0}, {"every2nd", 2, 0}, {"down-after-30ms", 0, 30 * time.Millisecond}, {"down-after-150ms", 0, 150 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			w := newEgressWorld(t, "", sourceRule{})
			v := w.flakyVerifier(t, 2, tc.n, tc.downAt)
			res := w.check(t, v)
			counts := map[string]int{}
			for a, r := range res {
				counts[r.Status.String()+"/"+string(r.Reason)]++
				if r.Status == Unknown && errors.Is(r.Err, egress.ErrStore) &&
					(r.Reason != ReasonRateLimited || r.RetryAfter <= 0) {
					t.Errorf("%s: %s/%s retry_after %v with a StoreError; want rate_limited with retry_after", a, r.Status, r.Reason, time.Duration(r.RetryAfter))
				}
				if r.Status == Unknown && errors.Is(r.Err, errFlaky) && !errors.Is(r.Err, egress.ErrStore) {
					t.Errorf("%s: %s/%s: the store's error came through untyped: %v", a, r.Status, r.Reason, r.Err)
				}
			}
			t.Logf("outcomes: %v", counts)
		})
	}
}

// TestReviewStaleLeaseNote (rev-egress): a wait that ended without a
// lease leaves its note for leaseWaitGrace; when the queue's very next
// lease is granted at the first Route (no refusal, so lease never makes a
// note of its own and endWait has nothing to delete), the old note still
// speaks for the queue: an address of that queue whose deadline passes
// now, while a healthy egress serves the queue, ends with the old
// refusal (rate_limited) instead of as expired (timeout).
func TestReviewStaleLeaseNote(t *testing.T) {
	const oneSession = `{"about": "test", "profiles": [
 {"provider": "default", "per_minute": 1000, "sessions": 1, "sources": {"per_minute": "test", "sessions": "test"}}]}`
	w := newEgressWorld(t, "", sourceRule{})
	v, _ := w.verifier(t, 1, oneSession)
	v.initEgress()
	h := mx.Host{Name: "mx.pool-mail.com"}
	q := &hostQueue{}
	ctx := withLeaseWait(context.Background(), q)
	l1, err := v.lease(ctx, h, "127.0.3.1")
	if err != nil || l1 == nil {
		t.Fatalf("first lease: %v %v", l1, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 120*time.Millisecond)
	_, err = v.lease(wctx, h, "127.0.3.1") // the one session is held: refused
	cancel()
	var ue *egress.UnavailableError
	if !errors.As(err, &ue) {
		t.Fatalf("second lease: %v; want an UnavailableError", err)
	}
	l1.Release()
	l3, err := v.lease(ctx, h, "127.0.3.1") // free at once: granted at the first Route
	if err != nil || l3 == nil {
		t.Fatalf("third lease: %v %v", l3, err)
	}
	defer l3.Release()
	e := &engine{v: v}
	j := &job{wire: "user01@pool-mail.com", run: &hostRun{host: h}}
	e.mu.Lock()
	r := e.expiredQueued(j, q)
	e.mu.Unlock()
	if r.Outcome != smtpprobe.Timeout {
		t.Errorf("an address whose deadline passed while its queue holds a lease ends %v (%v); want timeout: no worker of the queue waits for an egress", r.Outcome, r.Err)
	}
}

// TestReviewHangingHealthStoreCtx (rev-egress): as above, but the caller's
// ctx ends after 1 s: VerifyAll must return soon after, every address
// with a result.
func TestReviewHangingHealthStoreCtx(t *testing.T) {
	w := newEgressWorld(t, "", sourceRule{})
	v, _ := w.verifier(t, 2, generous)
	v.Timeout = time.Second
	hs := hangHealth{release: make(chan struct{})}
	var once sync.Once
	stop := func() { once.Do(func() { close(hs.release) }) }
	t.Cleanup(stop)
	timer := time.AfterFunc(15*time.Second, stop)
	defer timer.Stop()
	v.EgressStore = hs
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	var res []Result
	for _, r := range v.VerifyAll(ctx, w.addrs) {
		res = append(res, r)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("VerifyAll took %v with its ctx ending after 1s: a hanging health store held it", took)
	}
	if len(res) != len(w.addrs) {
		t.Errorf("%d results for %d addresses", len(res), len(w.addrs))
	}
	for _, r := range res {
		if r.Status != Unknown {
			t.Errorf("%s: %s/%s; want unknown", r.Input, r.Status, r.Reason)
		}
	}
}

// TestReviewStoreDownMidSoftLimit (rev-egress): the egress's server turns
// to accepting everyone (a silent soft limit, or a catch-all) after
// `after` RCPTs, and the health store fails from some point mid-run, or
// every nth call: an acceptance whose trailing probe or control cannot be
// asked (no session on a pair whose health cannot be read) must not end
// deliverable, nor a refusal count without its control (w.check), and
// every address comes back.
func TestReviewStoreDownMidSoftLimit(t *testing.T) {
	accept := testsmtpAccept()
	for _, after := range []int{0, 2, 4} {
		for _, tc := range []struct {
			n      int64
			downAt time.Duration
		}{{0, 0}, {3, 0}, {5, 0}, {0, 20 * time.Millisecond}, {0, 50 * time.Millisecond}, {0, 100 * time.Millisecond}, {0, 200 * time.Millisecond}} {
			name := fmt.Sprintf("after%d/every%d/down%v", after, tc.n, tc.downAt)
			t.Run(name, func(t *testing.T) {
				w := newEgressWorld(t, "127.0.0.2", sourceRule{rcpt: &accept, after: after})
				v := w.flakyVerifier(t, 1, tc.n, tc.downAt)
				res := w.check(t, v)
				counts := map[string]int{}
				for a, r := range res {
					counts[r.Status.String()+"/"+string(r.Reason)]++
					if after == 0 && r.Status == Deliverable {
						t.Errorf("%s: deliverable (%s) from a server that accepts everyone", a, r.Reason)
					}
				}
				t.Logf("outcomes: %v", counts)
			})
		}
	}
}

func testsmtpAccept() testsmtp.Reply { return testsmtp.R(250, "2.1.5", "Ok") }

// TestReviewLeaseNotesDoNotLeak (rev-egress): notes of waits over many
// queues that ended without a lease go once stale (leaseWaitGrace), at
// the next wait: the map holds at most the notes of the last second's
// waits, not one per queue ever seen.
func TestReviewLeaseNotesDoNotLeak(t *testing.T) {
	const oneSession = `{"about": "test", "profiles": [
 {"provider": "default", "per_minute": 100000, "sessions": 1, "sources": {"per_minute": "test", "sessions": "test"}}]}`
	w := newEgressWorld(t, "", sourceRule{})
	v, _ := w.verifier(t, 1, oneSession)
	v.initEgress()
	h := mx.Host{Name: "mx.pool-mail.com"}
	l, err := v.lease(context.Background(), h, "127.0.3.1") // the one session, held throughout
	if err != nil || l == nil {
		t.Fatalf("lease: %v %v", l, err)
	}
	defer l.Release()
	wait := func() {
		ctx, cancel := context.WithTimeout(withLeaseWait(context.Background(), &hostQueue{}), 20*time.Millisecond)
		defer cancel()
		if _, err := v.lease(ctx, h, "127.0.3.1"); err == nil {
			t.Fatal("a lease while the one session is held")
		}
	}
	count := func() (n int) {
		v.eg.waits.Range(func(any, any) bool { n++; return true })
		return n
	}
	for range 100 {
		wait()
	}
	t.Logf("%d notes right after 100 waits of distinct queues (all within leaseWaitGrace)", count())
	time.Sleep(leaseWaitGrace + 100*time.Millisecond)
	wait()
	if n := count(); n != 1 {
		t.Errorf("%d notes after every earlier wait went stale and one more wait; want 1", n)
	}
}

// countHang is hangHealth that counts its calls.
type countHang struct {
	hangHealth
	calls *atomic.Int64
}

func (s countHang) Get(k egress.Key) (egress.Record, uint64, error) {
	s.calls.Add(1)
	return s.hangHealth.Get(k)
}

// TestRouteGivesUpOnHungStore: Verifier.route with a ctx that has ended
// already asks no store and returns the ctx's error (no store was waited
// for); with one that ends while the store hangs, it returns a
// StoreError naming either store (which one held it is not known), and
// routes after it fail at once while that call has not returned.
func TestRouteGivesUpOnHungStore(t *testing.T) {
	w := newEgressWorld(t, "", sourceRule{})
	v, _ := w.verifier(t, 2, generous)
	calls := &atomic.Int64{}
	hs := countHang{hangHealth{release: make(chan struct{})}, calls}
	var once sync.Once
	stop := func() { once.Do(func() { close(hs.release) }) }
	t.Cleanup(stop)
	v.EgressStore = hs
	v.init()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := v.route(done, "other", "127.0.0.1:25"); !errors.Is(err, context.Canceled) || errors.Is(err, egress.ErrStore) {
		t.Errorf("route with its ctx ended: %v; want context.Canceled, no store error", err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("route with its ctx ended asked the store %d times", n)
	}
	ctx, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	_, err := v.route(ctx, "other", "127.0.0.1:25")
	var se *egress.StoreError
	if !errors.As(err, &se) || se.Store != "health or budget" {
		t.Fatalf("route while the store hangs: %v; want a StoreError of the health or budget store", err)
	}
	start := time.Now()
	if _, err := v.route(context.Background(), "other", "127.0.0.1:25"); !errors.Is(err, egress.ErrStore) || time.Since(start) > time.Second {
		t.Errorf("route while an earlier call hangs: %v after %v; want a store error at once", err, time.Since(start))
	}
	stop()
}
