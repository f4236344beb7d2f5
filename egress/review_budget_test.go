package egress

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Adversarial review of the cluster-wide budgets (branch rev-budget).
// Each test states the property the budget store must keep; the ones
// that fail on 02b1e27 are the review's findings.

// switchStore is a BudgetStore over another that can be cut off (as a
// process that loses its KV connection) or slowed.
type switchStore struct {
	inner BudgetStore
	down  atomic.Bool
	delay time.Duration // of every read's answer
}

func (s *switchStore) GetBudget(k Key) (Spending, uint64, error) {
	if s.down.Load() {
		return Spending{}, 0, errDown
	}
	sp, rev, err := s.inner.GetBudget(k)
	if s.delay > 0 {
		time.Sleep(s.delay) // the answer travels back: others may write meanwhile
	}
	return sp, rev, err
}

func (s *switchStore) PutBudget(k Key, sp Spending, rev uint64) (uint64, error) {
	if s.down.Load() {
		return 0, errDown
	}
	return s.inner.PutBudget(k, sp, rev)
}

// WrittenAt makes a switchStore a ClockedStore when its inner store is
// one (a MemBudgetStore with a Now): cut off, it fails as the rest.
func (s *switchStore) WrittenAt(k Key, rev uint64) (time.Time, error) {
	cs, ok := s.inner.(ClockedStore)
	if !ok || s.down.Load() {
		return time.Time{}, ErrNoClock
	}
	return cs.WrittenAt(k, rev)
}

// TestReviewLeaseLostWhileStoreDown: a process holds the one session of a
// pair, then loses the store (its renewals fail). Another process must be
// able to take the session once the hold lapses (the first may be dead),
// so the holder must be told its hold is lost before it lapses (its
// session then ends), and when its store comes back it must not put the
// lapsed hold back over the limit. (The review's version asserted that B
// cannot acquire at all, which a dead A could never allow; rev-budget F6.)
func TestReviewLeaseLostWhileStoreDown(t *testing.T) {
	p := testProfiles(t, `{"profiles":[{"provider":"default","per_minute":1000,"sessions":1,
	  "sources":{"per_minute":"test","sessions":"test"}}]}`)
	mem := &MemBudgetStore{}
	cut := &switchStore{inner: mem}
	const ttl = 150 * time.Millisecond
	a := &Budgets{Profiles: p, Store: cut, SessionTTL: ttl}
	b := &Budgets{Profiles: p, Store: mem, SessionTTL: ttl}
	k := Key{Egress: "proxy", Provider: "google"}
	releaseA, lostA, err := a.AcquireWatched(k)
	if err != nil {
		t.Fatal(err)
	}
	acquired := time.Now()
	defer releaseA()
	cut.down.Store(true) // A's KV connection drops
	select {
	case <-lostA:
		if d := time.Since(acquired); d >= ttl {
			t.Errorf("A was told its hold is lost %v after acquiring it; its hold lapses within the TTL (%v)", d, ttl)
		}
	case <-time.After(3 * ttl):
		t.Fatalf("A's hold could not be renewed for %v (TTL %v) and A was never told it is lost", 3*ttl, ttl)
	}
	time.Sleep(ttl)
	releaseB, err := b.Acquire(k)
	if err != nil {
		t.Fatalf("B could not take the session A lost: %v", err)
	}
	defer releaseB()
	cut.down.Store(false)
	time.Sleep(ttl) // A must not put its lapsed hold back
	if u := b.Usage(k); u.Sessions > 1 {
		t.Errorf("after A's store came back the pair shows %d sessions held; limit 1", u.Sessions)
	}
}

// TestReviewProfilesDisagree: two processes share a pair but one runs an
// older profile table with no hourly limit (a rolling configuration
// change). Its Take rewrites the pair's Spending with the hour window
// emptied (storeTake sets every window it does not limit to nil), so the
// other process, whose limit is 10 an hour, is given 10 more: 20 in the
// hour. A Take must keep the windows it does not itself limit.
func TestReviewProfilesDisagree(t *testing.T) {
	hourly := testProfiles(t, `{"profiles":[{"provider":"default","per_minute":1000,"per_hour":10,
	  "sources":{"per_minute":"test","per_hour":"test"}}]}`)
	noHour := testProfiles(t, `{"profiles":[{"provider":"default","per_minute":1000,"sources":{"per_minute":"test"}}]}`)
	store := &MemBudgetStore{}
	k := Key{Egress: "proxy", Provider: "google"}
	a := &Budgets{Profiles: hourly, Store: store}
	b := &Budgets{Profiles: noHour, Store: store}
	if err := a.Take(k, 10); err != nil {
		t.Fatal(err)
	}
	if err := b.Take(k, 1); err != nil {
		t.Fatal(err)
	}
	if err := a.Take(k, 10); err == nil {
		u := a.Usage(k)
		t.Errorf("A was given 10 more within the hour after B's Take: 21 in the hour, A's limit 10 (A now sees %d spent in the hour)", u.Hour)
	}
}

// TestReviewRouteStoreDownSaysWhen: with the budget store out of reach
// the router refuses (fail closed, right), but its *UnavailableError has
// no Until: verify's lease then polls every 50 ms until the address's
// deadline and ends it unknown/rate_limited with retry_after 0 (no
// retry_after at all), and a Verifier without a Timeout polls for ever.
// The brief: it ends unknown/rate_limited with a retry_after.
func TestReviewRouteStoreDownSaysWhen(t *testing.T) {
	p := testProfiles(t, `{"profiles":[{"provider":"default","per_minute":100,"sessions":2,
	  "sources":{"per_minute":"test","sessions":"test"}}]}`)
	r, err := NewRouter([]Egress{{Name: "proxy"}}, nil, &Budgets{Profiles: p, Store: failingStore{}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Route("google", "192.0.2.1:25")
	var ue *UnavailableError
	if !errors.As(err, &ue) {
		t.Fatalf("Route with the store down: %v; want an *UnavailableError", err)
	}
	if ue.Until.IsZero() {
		t.Errorf("Route with the store down: %v with no Until; want a time to retry (so the address ends with retry_after)", err)
	}
}

// TestReviewContentionGivesErrors: 3 workers × 4 sessions on one pair
// (12 flushers, 40 Takes each) share the store, whose reads take 1 ms (a KV round trip
// on a busy bus). The budget has plenty of room, so every Take should
// succeed; a Take that gives up after storeTries conflicts returns a
// plain error, which fails the flush (not a budget refusal, not a
// verdict the caller can act on).
func TestReviewContentionGivesErrors(t *testing.T) {
	p := testProfiles(t, `{"profiles":[{"provider":"default","per_minute":100000,"sources":{"per_minute":"test"}}]}`)
	slow := &switchStore{inner: &MemBudgetStore{}, delay: time.Millisecond}
	k := Key{Egress: "proxy", Provider: "google"}
	var failed, given atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	for range 3 {
		b := &Budgets{Profiles: p, Store: slow}
		for range 4 {
			wg.Go(func() {
				for range 40 {
					if err := b.Take(k, 1); err != nil {
						failed.Add(1)
						first.CompareAndSwap(nil, err.Error())
					} else {
						given.Add(1)
					}
				}
			})
		}
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Errorf("%d of %d Takes failed with room in the budget (first: %v); want each to succeed (wait its turn) or be a budget refusal",
			failed.Load(), failed.Load()+given.Load(), first.Load())
	}
	if u := (&Budgets{Profiles: p, Store: slow}).Usage(k); int64(u.Minute) != given.Load() {
		t.Errorf("the store counts %d; %d were given", u.Minute, given.Load())
	}
}

// TestReviewSlowStoreRenewalLapses: renew extends the holds one pair
// after another, every SessionTTL/3 plus the time the pass took. With a
// slow store (each read answered after 15 ms) and 8 pairs held, a pass
// takes longer than 2/3 of the TTL, so a hold expires between two
// renewals while its session runs, and another process acquires the
// pair's only session. In real terms: TTL 1 min, 40 pairs (8 egresses ×
// 5 providers) and a KV answering in 1 s (Get and Update) take 80 s a
// pass. Renewals must not depend on the number of pairs held (renew in
// parallel, or all of a process's holds in one record), or a hold must
// be renewed well before its end, whatever the pass costs.
func TestReviewSlowStoreRenewalLapses(t *testing.T) {
	p := testProfiles(t, `{"profiles":[{"provider":"default","per_minute":1000,"sessions":1,
	  "sources":{"per_minute":"test","sessions":"test"}}]}`)
	mem := &MemBudgetStore{}
	slow := &switchStore{inner: mem, delay: 15 * time.Millisecond}
	const ttl = 300 * time.Millisecond // 12 pairs one after another take ~200 ms a pass
	holder := &Budgets{Profiles: p, Store: slow, SessionTTL: ttl}
	other := &Budgets{Profiles: p, Store: mem, SessionTTL: ttl}
	var keys []Key
	lost := map[Key]<-chan struct{}{}
	for i := range 12 {
		k := Key{Egress: "proxy", Provider: string(rune('a' + i))}
		release, l, err := holder.AcquireWatched(k)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		keys = append(keys, k)
		lost[k] = l
	}
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		for _, k := range keys {
			if r, err := other.Acquire(k); err == nil {
				r()
				select {
				case <-lost[k]:
					t.Fatalf("%s: the holder's hold was lost (renewals did not keep up: 12 pairs, store reads 15 ms, TTL %v)", k, ttl)
				default:
				}
				t.Fatalf("%s: a second session acquired while the holder's runs (limit 1): its hold lapsed between renewals (12 pairs, store reads 15 ms, TTL %v)", k, ttl)
			}
		}
	}
}

// TestReviewSharedWindowsNeverExceeded: three processes (one clock) take
// from one pair at random times over six hours, crossing many minute and
// hour boundaries; in every true sliding minute and hour of the run the
// commands given stay within the limits.
func TestReviewSharedWindowsNeverExceeded(t *testing.T) {
	c := newClock()
	p := testProfiles(t, `{"profiles":[{"provider":"default","per_minute":7,"per_hour":60,
	  "sources":{"per_minute":"test","per_hour":"test"}}]}`)
	store := &MemBudgetStore{}
	bs := []*Budgets{{Profiles: p, Store: store, Now: c.Now}, {Profiles: p, Store: store, Now: c.Now}, {Profiles: p, Store: store, Now: c.Now}}
	k := Key{Egress: "proxy", Provider: "google"}
	rng := rand.New(rand.NewPCG(3, 4))
	type given struct {
		at time.Time
		n  int
	}
	var log []given
	for range 9000 {
		n := 1 + rng.IntN(3)
		if bs[rng.IntN(3)].Take(k, n) == nil {
			log = append(log, given{c.Now(), n})
		}
		c.Advance(time.Duration(rng.IntN(4000)) * time.Millisecond)
	}
	for i, g := range log {
		minute, hour := 0, 0
		for _, h := range log[:i+1] {
			if g.at.Sub(h.at) < time.Minute {
				minute += h.n
			}
			if g.at.Sub(h.at) < time.Hour {
				hour += h.n
			}
		}
		if minute > 7 || hour > 60 {
			t.Fatalf("at %v: %d in the last minute (limit 7), %d in the last hour (limit 60)", g.at, minute, hour)
		}
	}
	if len(log) < 150 {
		t.Fatalf("only %d takes given; the run tells little", len(log))
	}
}

// TestLeaseLostRefusesTakes: a lease whose hold could not be renewed is
// told (Lost) before the hold lapses, and from then on refuses every
// Take with an *UnavailableError that says when to come back, so its
// session sends nothing more (rev-budget F6).
func TestLeaseLostRefusesTakes(t *testing.T) {
	p := testProfiles(t, `{"profiles":[{"provider":"default","per_minute":1000,"sessions":1,
	  "sources":{"per_minute":"test","sessions":"test"}}]}`)
	cut := &switchStore{inner: &MemBudgetStore{}}
	const ttl = 150 * time.Millisecond
	r, err := NewRouter([]Egress{{Name: "proxy"}}, nil, &Budgets{Profiles: p, Store: cut, SessionTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	l, err := r.Route("google", "192.0.2.1:25")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	start := time.Now()
	if err := l.Take(1); err != nil {
		t.Fatalf("Take on a fresh lease: %v", err)
	}
	cut.down.Store(true)
	select {
	case <-l.Lost():
	case <-time.After(2 * ttl):
		t.Fatalf("the lease's hold was not renewed for %v (TTL %v) and Lost never closed", 2*ttl, ttl)
	}
	if d := time.Since(start); d >= ttl {
		t.Errorf("Lost closed %v after the lease was taken; its hold lapses within %v", d, ttl)
	}
	cut.down.Store(false) // even with the store back, the lost lease sends nothing
	err = l.Take(1)
	var ue *UnavailableError
	if !errors.As(err, &ue) || !errors.Is(err, ErrHoldLost) || ue.Until.IsZero() {
		t.Errorf("Take on a lost lease: %v; want an *UnavailableError (ErrHoldLost) with an Until", err)
	}
}

// TestClockedStoreSkew: on a store that keeps a clock (ClockedStore, as
// the NATS server's KV does), processes whose clocks disagree time their
// windows and holds by the store's: neither a process 10 s behind nor one
// 45 s behind is given a budget or a session early, and a dead holder
// 30 s ahead frees its session within the TTL (rev-budget F8, the
// review's TestReviewClockSkewExceedsMinute and TestReviewHoldClockSkew
// on a clocked store).
func TestClockedStoreSkew(t *testing.T) {
	k := Key{Egress: "proxy", Provider: "google"}
	skewed := func(c *fakeClock, d time.Duration) func() time.Time {
		return func() time.Time { return c.Now().Add(d) }
	}
	t.Run("minute", func(t *testing.T) {
		c := newClock()
		p := testProfiles(t, `{"profiles":[{"provider":"default","per_minute":10,"sources":{"per_minute":"test"}}]}`)
		store := &MemBudgetStore{Now: c.Now}
		a := &Budgets{Profiles: p, Store: store, Now: skewed(c, 10*time.Second)}
		b := &Budgets{Profiles: p, Store: store, Now: c.Now}
		if err := b.Take(k, 10); err != nil {
			t.Fatal(err)
		}
		c.Advance(53 * time.Second)
		if err := a.Take(k, 10); err == nil {
			t.Errorf("A (clock 10 s ahead) took 10 more 53 s after B took 10: 20 within a minute, limit 10")
		}
	})
	p := testProfiles(t, `{"profiles":[{"provider":"default","per_minute":1000,"sessions":1,
	  "sources":{"per_minute":"test","sessions":"test"}}]}`)
	t.Run("ahead", func(t *testing.T) {
		c := newClock()
		mem := &MemBudgetStore{Now: c.Now}
		cut := &switchStore{inner: mem}
		dead := &Budgets{Profiles: p, Store: cut, Now: skewed(c, 30*time.Second)}
		other := &Budgets{Profiles: p, Store: mem, Now: c.Now}
		if _, err := dead.Acquire(k); err != nil {
			t.Fatal(err)
		}
		cut.down.Store(true)
		c.Advance(time.Minute + time.Second)
		if release, err := other.Acquire(k); err != nil {
			t.Errorf("61 s after its holder died (TTL 1 min, holder's clock 30 s ahead) the session is still held: %v", err)
		} else {
			release()
		}
	})
	t.Run("behind", func(t *testing.T) {
		c := newClock()
		mem := &MemBudgetStore{Now: c.Now}
		holder := &Budgets{Profiles: p, Store: mem, Now: skewed(c, -45*time.Second)}
		other := &Budgets{Profiles: p, Store: mem, Now: c.Now}
		release, err := holder.Acquire(k)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		c.Advance(16 * time.Second)
		if r2, err := other.Acquire(k); err == nil {
			r2()
			t.Errorf("a second session acquired 16 s after the first, which still runs (limit 1; holder's clock 45 s behind)")
		}
	})
}
