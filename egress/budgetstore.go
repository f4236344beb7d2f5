package egress

import (
	"cmp"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// A BudgetStore keeps what each (egress, provider) pair has spent, so
// that every Budgets on one store spends one budget per pair: the
// workers of a cluster that declare the same egress (one SOCKS5 proxy,
// or two processes on one machine), and a process after its restart. It
// is a compare-and-set map, the shape of a JetStream KV bucket, as Store
// is: GetBudget returns a pair's Spending and its revision (0: none);
// PutBudget stores one if the stored revision is still rev (0: only if
// absent) and returns the new revision, else fails with ErrConflict. It
// must keep a pair for at least 26 hours after its last write (the day
// window counts a command for up to 25.2 hours), and be safe for
// concurrent use.
type BudgetStore interface {
	GetBudget(k Key) (Spending, uint64, error)
	PutBudget(k Key, s Spending, rev uint64) (uint64, error)
}

// Spending is one pair's spending as a BudgetStore keeps it (JSON-ready):
// the commands counted in each window's slots, and the sessions held now.
type Spending struct {
	Minute   []Slot `json:"minute,omitempty"`
	Hour     []Slot `json:"hour,omitempty"`
	Day      []Slot `json:"day,omitempty"`
	Sessions []Hold `json:"sessions,omitempty"`
}

// A Slot is one slot of a window (a twentieth of its span): its number
// since the Unix epoch and the commands counted in it.
type Slot struct {
	At int64 `json:"at"`
	N  int   `json:"n"`
}

// A Hold is one session held at once: a lease that counts until Until.
// The process holding it renews it while the session lasts, so that a
// process that dies frees its sessions within Budgets.SessionTTL.
type Hold struct {
	ID    string    `json:"id"`
	Until time.Time `json:"until"`
}

// storeContention bounds how long one change keeps trying while other
// writers come first (a compare-and-set conflict): it backs off with
// jitter, up to storeBackoffMax a try, and gives up past storeContention
// with ErrConflict.
const (
	storeContention = 600 * time.Millisecond
	storeBackoffMax = 20 * time.Millisecond
)

func (b *Budgets) sessionTTL() time.Duration {
	if b.SessionTTL > 0 {
		return b.SessionTTL
	}
	return time.Minute
}

// update applies f to k's Spending in the store, compare-and-set, trying
// again while another writer came first. An error of f is returned and
// nothing is written.
func (b *Budgets) update(k Key, f func(s *Spending, now time.Time) error) error {
	b.syncClock(k)
	end := time.Now().Add(storeContention)
	backoff := 100 * time.Microsecond
	for {
		s, rev, err := b.Store.GetBudget(k)
		if err != nil {
			return err
		}
		if err := f(&s, b.now()); err != nil {
			return err
		}
		_, err = b.Store.PutBudget(k, s, rev)
		if !errors.Is(err, ErrConflict) {
			return err
		}
		if time.Now().After(end) {
			return fmt.Errorf("egress: budget of %s: %w", k, ErrConflict)
		}
		time.Sleep(backoff/2 + rand.N(backoff))
		backoff = min(2*backoff, storeBackoffMax)
	}
}

// loaded is k's budget as the store holds it.
func (b *Budgets) loaded(k Key, s Spending, now time.Time) *budget {
	bu := &budget{lim: b.LimitsFor(k), last: now}
	slots := [3][]Slot{s.Minute, s.Hour, s.Day}
	for i, n := range [3]int{bu.lim.PerMinute, bu.lim.PerHour, bu.lim.PerDay} {
		if n > 0 {
			bu.win[i] = newWindow(windowSpans[i], n)
			bu.win[i].load(slots[i], now)
		}
	}
	live := liveHolds(slices.Clone(s.Sessions), now)
	bu.sessions, bu.freeAt = len(live), earliest(live)
	return bu
}

// load puts the slots still counting at now into the window's ring. A
// slot after now's was written by a process whose clock is ahead: it is
// counted in now's slot, never dropped (so a clock skew between
// processes can shorten how long a command counts by the skew, never
// lose it).
func (w *window) load(slots []Slot, now time.Time) {
	cur := w.slotOf(now)
	for _, s := range slots {
		s.At = min(s.At, cur)
		if s.N <= 0 || s.At < cur-slotsPerWindow {
			continue
		}
		i := int(s.At % int64(len(w.n)))
		if w.idx[i] != s.At {
			w.idx[i], w.n[i] = s.At, 0
		}
		w.n[i] += s.N
	}
}

// dump lists the slots still counting at now, oldest first.
func (w *window) dump(now time.Time) []Slot {
	cur := w.slotOf(now)
	var out []Slot
	for i := range w.n {
		if w.live(i, cur) {
			out = append(out, Slot{At: w.idx[i], N: w.n[i]})
		}
	}
	slices.SortFunc(out, func(a, b Slot) int { return cmp.Compare(a.At, b.At) })
	return out
}

func (b *Budgets) storeTake(k Key, n int) error {
	return b.update(k, func(s *Spending, now time.Time) error {
		bu := b.loaded(k, *s, now)
		if err := bu.check(k, n, now); err != nil {
			return err
		}
		// Every window is counted, limited here or not: a process whose
		// profile has no limit for one keeps the others' count of it.
		for i, p := range []*[]Slot{&s.Minute, &s.Hour, &s.Day} {
			w := bu.win[i]
			if w == nil {
				w = newWindow(windowSpans[i], math.MaxInt)
				w.load(*p, now)
			}
			w.add(now, n)
			*p = w.dump(now)
		}
		return nil
	})
}

func (b *Budgets) storeCheck(k Key, n int) error {
	b.syncClock(k)
	s, _, err := b.Store.GetBudget(k)
	if err != nil {
		return err
	}
	now := b.now()
	bu := b.loaded(k, s, now)
	if bu.lim.Sessions > 0 && bu.sessions >= bu.lim.Sessions {
		return &ExhaustedError{Key: k, Window: "sessions", RetryAt: bu.freeAt}
	}
	return bu.check(k, n, now)
}

func (b *Budgets) storeUsage(k Key) Usage {
	b.syncClock(k)
	s, _, err := b.Store.GetBudget(k)
	now := b.now()
	bu := b.loaded(k, s, now)
	u := Usage{Sessions: bu.sessions, Limits: bu.lim}
	if err != nil { // unknown: report the pair spent, never free
		return Usage{Minute: bu.lim.PerMinute, Hour: bu.lim.PerHour, Day: bu.lim.PerDay, Sessions: bu.lim.Sessions, Limits: bu.lim}
	}
	for i, p := range []*int{&u.Minute, &u.Hour, &u.Day} {
		if w := bu.win[i]; w != nil {
			*p = w.count(now)
		}
	}
	return u
}

// storeAcquire holds one of k's sessions in the store, renewed while it
// is held (see renew); lost is closed when the hold could not be renewed
// in time (see heldHold).
func (b *Budgets) storeAcquire(k Key) (release func(), lost <-chan struct{}, err error) {
	var raw [12]byte
	_, _ = crand.Read(raw[:])
	id := hex.EncodeToString(raw[:])
	var until time.Time
	err = b.update(k, func(s *Spending, now time.Time) error {
		s.Sessions = liveHolds(s.Sessions, now)
		if lim := b.LimitsFor(k); lim.Sessions > 0 && len(s.Sessions) >= lim.Sessions {
			return &ExhaustedError{Key: k, Window: "sessions", RetryAt: earliest(s.Sessions)}
		}
		until = now.Add(b.sessionTTL())
		s.Sessions = append(s.Sessions, Hold{ID: id, Until: until})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	h := b.hold(k, id, until)
	var once sync.Once
	return func() {
		once.Do(func() {
			b.unhold(k, id)
			// A failure leaves the hold to expire within SessionTTL.
			_ = b.update(k, func(s *Spending, now time.Time) error {
				s.Sessions = slices.DeleteFunc(liveHolds(s.Sessions, now), func(h Hold) bool { return h.ID == id })
				return nil
			})
		})
	}, h.lost, nil
}

func liveHolds(hs []Hold, now time.Time) []Hold {
	return slices.DeleteFunc(hs, func(h Hold) bool { return !now.Before(h.Until) })
}

// earliest is the first Until of hs (zero for none): when the first of
// the sessions they hold frees, unless renewed.
func earliest(hs []Hold) time.Time {
	var t time.Time
	for _, h := range hs {
		if t.IsZero() || h.Until.Before(t) {
			t = h.Until
		}
	}
	return t
}

// MemBudgetStore is the in-memory BudgetStore: Verifiers of one process
// that share it spend one budget per pair. It forgets a pair 26 hours
// after its last write. The zero value is ready.
type MemBudgetStore struct {
	// Now, when set, is the store's clock: it stamps each write, and
	// Budgets on the store time their windows by it (ClockedStore).
	// Without it the store keeps no clock (WrittenAt fails).
	Now func() time.Time

	mu  sync.Mutex
	m   map[Key]memSpending
	rev uint64
}

type memSpending struct {
	s   Spending
	rev uint64
	at  time.Time
}

// storeKeep is how long a pair's spending must be kept after its last
// write: the day window counts a command for up to 25.2 hours.
const storeKeep = 26 * time.Hour

// GetBudget implements BudgetStore.
func (m *MemBudgetStore) GetBudget(k Key) (Spending, uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.m[k]
	return Spending{Minute: slices.Clone(e.s.Minute), Hour: slices.Clone(e.s.Hour), Day: slices.Clone(e.s.Day),
		Sessions: slices.Clone(e.s.Sessions)}, e.rev, nil
}

// PutBudget implements BudgetStore.
func (m *MemBudgetStore) PutBudget(k Key, s Spending, rev uint64) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m[k].rev != rev {
		return 0, ErrConflict
	}
	if m.m == nil {
		m.m = map[Key]memSpending{}
	}
	m.rev++
	now := time.Now()
	if m.Now != nil {
		now = m.Now()
	}
	if m.rev%1024 == 0 {
		for k, e := range m.m {
			if now.Sub(e.at) > storeKeep {
				delete(m.m, k)
			}
		}
	}
	m.m[k] = memSpending{s: s, rev: m.rev, at: now}
	return m.rev, nil
}

// WrittenAt implements ClockedStore: when k's revision rev was written by
// Now (ErrNoClock without Now; ErrConflict when k is at another revision).
func (m *MemBudgetStore) WrittenAt(k Key, rev uint64) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Now == nil {
		return time.Time{}, ErrNoClock
	}
	if e := m.m[k]; e.rev == rev {
		return e.at, nil
	}
	return time.Time{}, ErrConflict
}
