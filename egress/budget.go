package egress

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Limits are what one egress may spend on one provider: commands that may
// draw an error (RCPT, and the catch-all probes, canaries and retries that
// are RCPTs too) per minute, hour and day, and sessions at once. Zero
// means no limit of that kind.
type Limits struct {
	PerMinute int `json:"per_minute"`
	PerHour   int `json:"per_hour"`
	PerDay    int `json:"per_day"`
	Sessions  int `json:"sessions"`
}

// An ExhaustedError says a budget is spent: which key, which window
// ("minute", "hour", "day" or "sessions"), and the earliest time the
// request could fit (RetryAt; zero for a request larger than the window's
// whole limit, and for sessions in memory, which free up when one is
// released; with a Store, for sessions, when the first hold lapses unless
// it is renewed: one may free sooner).
type ExhaustedError struct {
	Key     Key
	Window  string
	RetryAt time.Time
}

func (e *ExhaustedError) Error() string {
	if e.RetryAt.IsZero() {
		return fmt.Sprintf("egress: %s budget of %s spent", e.Window, e.Key)
	}
	return fmt.Sprintf("egress: %s budget of %s spent until %s", e.Window, e.Key, e.RetryAt.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrExhausted) hold.
func (e *ExhaustedError) Is(target error) bool { return target == ErrExhausted }

// ErrExhausted matches every *ExhaustedError.
var ErrExhausted = errors.New("egress: budget spent")

// Budgets keeps the tolerance budget of every (egress, provider) pair:
// what a provider accepts from one source address before it throttles or
// blocks it. This is not politeness to a server (sessions at once and
// RCPTs per second per server address, one budget for the whole
// verifier, kept by package verify): egresses multiply tolerance, never
// politeness. The zero value works with DefaultProfiles and the system
// clock; it is safe for concurrent use.
//
// Windows slide: a command counts against a window of length L for
// between L and L·(1+1/20) after it is taken (20 slots a window), so no
// true sliding window ever sees more than the limit.
//
// Budgets keeps the spending in memory, for this process alone, unless
// Store is set: then every Budgets on the store spends one budget per
// pair, whatever the number of processes that declare the egress, and a
// restarted process keeps what was spent (see BudgetStore).
type Budgets struct {
	// Profiles gives each provider's limits; nil means DefaultProfiles().
	Profiles *Profiles
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Store, when set, keeps the spending, shared by every Budgets on it:
	// each Take is a compare-and-set of the pair's windows, each session
	// a hold renewed while it lasts. A store that fails refuses the
	// command (the error is returned): a budget is never exceeded. The
	// windows' slots and the holds are timed by the store's clock when
	// it keeps one (a ClockedStore, such as the service's KV: Now is then
	// corrected by the offset estimated each minute), else by each
	// process's clock: keep the clocks in step (NTP); a skew shortens how
	// long a command or a hold counts by at most the skew.
	Store BudgetStore
	// SessionTTL, with Store, is how long a session's hold counts without
	// being renewed (every third of it while the session lasts), so that
	// a process that dies frees its sessions within it; zero means a
	// minute.
	SessionTTL time.Duration

	mu       sync.Mutex
	m        map[Key]*budget
	ops      int
	held     map[Key]map[string]*heldHold // the holds this process renews (Store)
	renewing bool

	clockMu sync.Mutex
	clockAt time.Time    // of the last offset estimate, local clock
	offset  atomic.Int64 // a ClockedStore's clock minus this process's
}

type budget struct {
	lim      Limits
	win      [3]*window // minute, hour, day; nil when unlimited
	sessions int
	freeAt   time.Time // with a Store: when the first hold lapses, unless renewed
	last     time.Time
}

var windowNames = [3]string{"minute", "hour", "day"}
var windowSpans = [3]time.Duration{time.Minute, time.Hour, 24 * time.Hour}

// now is the clock the budgets are timed by: this process's, corrected
// by the offset of a ClockedStore's (see syncClock).
func (b *Budgets) now() time.Time {
	return b.localNow().Add(time.Duration(b.offset.Load()))
}

// LimitsFor returns the limits that apply to k.
func (b *Budgets) LimitsFor(k Key) Limits {
	p := b.Profiles
	if p == nil {
		p = DefaultProfiles()
	}
	return p.For(k.Provider).Limits
}

func (b *Budgets) get(k Key, now time.Time) *budget {
	if b.m == nil {
		b.m = map[Key]*budget{}
	}
	if b.ops++; b.ops%1024 == 0 {
		b.sweep(now)
	}
	bu := b.m[k]
	if bu == nil {
		bu = &budget{lim: b.LimitsFor(k)}
		for i, n := range [3]int{bu.lim.PerMinute, bu.lim.PerHour, bu.lim.PerDay} {
			if n > 0 {
				bu.win[i] = newWindow(windowSpans[i], n)
			}
		}
		b.m[k] = bu
	}
	bu.last = now
	return bu
}

// sweep forgets budgets idle for longer than a day (nothing counted).
func (b *Budgets) sweep(now time.Time) {
	for k, bu := range b.m {
		if bu.sessions == 0 && now.Sub(bu.last) > 25*time.Hour {
			delete(b.m, k)
		}
	}
}

// Take spends n commands of k's budget, in every window at once, or
// spends nothing and returns an *ExhaustedError with the earliest time all
// windows have room for n.
func (b *Budgets) Take(k Key, n int) error {
	if b.Store != nil {
		return b.storeTake(k, n)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	bu := b.get(k, now)
	if err := bu.check(k, n, now); err != nil {
		return err
	}
	for _, w := range bu.win {
		if w != nil {
			w.add(now, n)
		}
	}
	return nil
}

// check returns the *ExhaustedError Take would, without spending.
func (bu *budget) check(k Key, n int, now time.Time) error {
	var worst *ExhaustedError
	for i, w := range bu.win {
		if w == nil {
			continue
		}
		at, ok := w.fits(now, n)
		if ok {
			continue
		}
		if at.IsZero() {
			return &ExhaustedError{Key: k, Window: windowNames[i]}
		}
		if worst == nil || at.After(worst.RetryAt) {
			worst = &ExhaustedError{Key: k, Window: windowNames[i], RetryAt: at}
		}
	}
	if worst != nil {
		return worst
	}
	return nil
}

// Acquire takes one of k's sessions at once and returns its release (safe
// to call more than once), or an *ExhaustedError for window "sessions".
func (b *Budgets) Acquire(k Key) (release func(), err error) {
	release, _, err = b.AcquireWatched(k)
	return release, err
}

// AcquireWatched is Acquire with a channel closed when the session's hold
// in the Store is lost: it could not be renewed until a quarter of
// SessionTTL before it lapses (the store is out of reach or too slow), or
// it lapsed. The session must then end at once, before another process
// can take its place. Without a Store the channel is nil (never lost).
func (b *Budgets) AcquireWatched(k Key) (release func(), lost <-chan struct{}, err error) {
	if b.Store != nil {
		return b.storeAcquire(k)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	bu := b.get(k, b.now())
	if bu.lim.Sessions > 0 && bu.sessions >= bu.lim.Sessions {
		return nil, nil, &ExhaustedError{Key: k, Window: "sessions"}
	}
	bu.sessions++
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			bu.sessions--
			b.mu.Unlock()
		})
	}, nil, nil
}

// Check reports, without spending, whether k has a session and n commands
// to give now; the error is the *ExhaustedError Acquire or Take would
// return.
func (b *Budgets) Check(k Key, n int) error {
	if b.Store != nil {
		return b.storeCheck(k, n)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	bu := b.get(k, now)
	if bu.lim.Sessions > 0 && bu.sessions >= bu.lim.Sessions {
		return &ExhaustedError{Key: k, Window: "sessions"}
	}
	return bu.check(k, n, now)
}

// Usage is what a pair has spent, beside its limits.
type Usage struct {
	Minute   int    `json:"minute"`
	Hour     int    `json:"hour"`
	Day      int    `json:"day"`
	Sessions int    `json:"sessions"`
	Limits   Limits `json:"limits"`
}

// Usage returns what k has spent in each window now.
func (b *Budgets) Usage(k Key) Usage {
	if b.Store != nil {
		return b.storeUsage(k)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	bu := b.get(k, now)
	u := Usage{Sessions: bu.sessions, Limits: bu.lim}
	for i, p := range []*int{&u.Minute, &u.Hour, &u.Day} {
		if w := bu.win[i]; w != nil {
			*p = w.count(now)
		}
	}
	return u
}

// A window counts commands in slots: a ring of slots+1 buckets, each one
// slot long, so the counted span always covers the last span.
type window struct {
	slot  time.Duration
	limit int
	idx   []int64 // slot number of each bucket
	n     []int
}

const slotsPerWindow = 20

func newWindow(span time.Duration, limit int) *window {
	return &window{slot: span / slotsPerWindow, limit: limit,
		idx: make([]int64, slotsPerWindow+1), n: make([]int, slotsPerWindow+1)}
}

func (w *window) slotOf(t time.Time) int64 { return t.UnixNano() / int64(w.slot) }

// live reports whether bucket i still counts at slot number cur.
func (w *window) live(i int, cur int64) bool {
	return w.n[i] > 0 && w.idx[i] >= cur-slotsPerWindow && w.idx[i] <= cur
}

func (w *window) count(now time.Time) int {
	cur, c := w.slotOf(now), 0
	for i := range w.n {
		if w.live(i, cur) {
			c += w.n[i]
		}
	}
	return c
}

func (w *window) add(now time.Time, n int) {
	cur := w.slotOf(now)
	i := int(cur % int64(len(w.n)))
	if w.idx[i] != cur {
		w.idx[i], w.n[i] = cur, 0
	}
	w.n[i] += n
}

// fits reports whether n more fit now; if not, the earliest time they
// will (zero if never: n is over the whole limit).
func (w *window) fits(now time.Time, n int) (time.Time, bool) {
	if n > w.limit {
		return time.Time{}, false
	}
	cur := w.slotOf(now)
	over := w.count(now) + n - w.limit
	if over <= 0 {
		return time.Time{}, true
	}
	// Free the oldest buckets until enough has left the window; bucket
	// with slot number s stops counting at slot s+slots+1.
	for s := cur - slotsPerWindow; s <= cur; s++ {
		i := int(((s % int64(len(w.n))) + int64(len(w.n))) % int64(len(w.n)))
		if w.idx[i] == s && w.n[i] > 0 {
			over -= w.n[i]
			if over <= 0 {
				return time.Unix(0, (s+slotsPerWindow+1)*int64(w.slot)), false
			}
		}
	}
	return time.Time{}, false // unreachable: the window holds all it counts
}
