package egress

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// A Router chooses the egress of each session: among the egresses allowed
// for the provider (pins), one that is healthy (or due a half-open probe)
// and has budget. It is sticky: a (provider, mail server) keeps its egress
// while that egress stays healthy with budget, so pipelined sessions and
// catch-all answers keep being asked from the same address; it moves only
// when the egress is backed off or spent (Lease.Moved says so). It
// remembers at most StickyLimit pairs, the most recently used. Make one
// with NewRouter; it is safe for concurrent use.
type Router struct {
	egresses []Egress
	health   *Health
	budgets  *Budgets
	pinned   map[string]bool

	mu     sync.Mutex
	sticky *stickyMap // (provider key, server) → egress index, bounded (sticky.go)
	inUse  map[Key]int
}

// NewRouter returns a router over egresses (none: one direct egress), with
// health and budgets (nil: new zero-value ones). Egress IDs must be
// unique.
func NewRouter(egresses []Egress, h *Health, b *Budgets) (*Router, error) {
	if len(egresses) == 0 {
		egresses = []Egress{{}}
	}
	if h == nil {
		h = &Health{}
	}
	if b == nil {
		b = &Budgets{}
	}
	r := &Router{egresses: egresses, health: h, budgets: b, pinned: map[string]bool{},
		sticky: newStickyMap(StickyLimit), inUse: map[Key]int{}}
	seen := map[string]bool{}
	for i := range egresses {
		id := egresses[i].ID()
		if seen[id] {
			return nil, &ParseError{Input: id, Err: ErrDuplicate}
		}
		seen[id] = true
		for _, p := range egresses[i].Providers {
			if p != "*" {
				r.pinned[p] = true
			}
		}
	}
	return r, nil
}

// Egresses returns the router's egresses.
func (r *Router) Egresses() []Egress { return r.egresses }

// Health and Budgets return what the router consults.
func (r *Router) Health() *Health   { return r.health }
func (r *Router) Budgets() *Budgets { return r.budgets }

// An UnavailableError says no egress can take a session for a provider
// now. Blocked: every allowed egress is backed off (throttled, soft
// limited, blocked, or its probe is out), so addresses end
// unknown/blocked; otherwise they are out of budget, and addresses wait or
// end unknown/rate_limited. Until is the earliest time one may be free
// (zero when only a session's release can free one, or no egress serves
// the provider). Sessions: some egress was refused for its sessions at
// once, which may free before Until. Err: the health or budget store
// failed (a *StoreError: out of reach, timed out, or contended past its
// tries); Until is then StoreBackoff away, and the addresses end
// unknown/rate_limited with that retry_after (not blocked: nothing is
// known against the egress).
type UnavailableError struct {
	Provider string
	Blocked  bool
	NoEgress bool
	Sessions bool
	Until    time.Time
	Err      error
}

// StoreBackoff is how long an address refused because the health or
// budget store failed is told to wait (its retry_after).
const StoreBackoff = 15 * time.Second

// Unwrap returns the store's error.
func (e *UnavailableError) Unwrap() error { return e.Err }

func (e *UnavailableError) Error() string {
	var what string
	switch {
	case e.NoEgress:
		return "egress: no egress is allowed to serve " + e.Provider
	case e.Err != nil:
		what = "no egress can be used for " + e.Provider + " (" + e.Err.Error() + ")"
	case e.Blocked:
		what = "all egresses for " + e.Provider + " are blocked or backed off"
	default:
		what = "all egresses for " + e.Provider + " are out of budget"
	}
	if !e.Until.IsZero() {
		what += " until " + e.Until.UTC().Format(time.RFC3339)
	}
	return "egress: " + what
}

// A Lease is one session's egress. Report what the session learns through
// it and Release it when the session closes.
type Lease struct {
	Egress *Egress
	Key    Key
	// Probe: this session is the half-open probe of its pair.
	Probe bool
	// Moved: the (provider, server) had another egress before; answers
	// learnt through that one (catch-all) may not hold on this one.
	Moved bool

	r        *Router
	release  func()
	lost     <-chan struct{}
	once     sync.Once
	mu       sync.Mutex
	resolved bool
}

// Route leases an egress for a session to server (its address) of
// provider ("" when unknown), or returns an *UnavailableError.
func (r *Router) Route(provider, server string) (*Lease, error) {
	pk := ProviderKey(provider, server)
	sk := [2]string{pk, server}
	r.mu.Lock()
	prev, had := r.sticky.get(sk)
	order := r.candidates(provider, pk, prev, had)
	r.mu.Unlock()
	if len(order) == 0 {
		return nil, &UnavailableError{Provider: pk, NoEgress: true}
	}
	blocked, until := true, time.Time{}
	later := func(t time.Time) {
		if !t.IsZero() && (until.IsZero() || t.Before(until)) {
			until = t
		}
	}
	var sessions bool
	var storeErr error
	refused := func(err error) { // by the budget
		blocked = false
		var ee *ExhaustedError
		switch {
		case !errors.As(err, &ee):
			storeErr = err // a *StoreError
		case ee.Window == "sessions":
			sessions = true
			later(ee.RetryAt)
		default:
			later(ee.RetryAt)
		}
	}
	for _, i := range order {
		e := &r.egresses[i]
		k := Key{Egress: e.ID(), Provider: pk}
		off, offUntil, err := r.health.BackedOff(k)
		if err != nil {
			// One health store serves every pair: the next egress's
			// read would wait out the same timeout.
			return nil, storeDown(pk, err)
		}
		if off {
			later(offUntil)
			continue
		}
		if err := r.budgets.Check(k, 1); err != nil {
			refused(storeError("budget", k, err))
			continue
		}
		adm, err := r.health.Admit(k)
		if err != nil {
			return nil, storeDown(pk, err)
		}
		if !adm.OK {
			later(adm.Until)
			continue
		}
		release, lost, err := r.budgets.AcquireWatched(k)
		if err != nil { // taken meanwhile by another session, or the store failed
			refused(storeError("budget", k, err))
			if adm.Probe {
				_ = r.health.EndProbe(k)
			}
			continue
		}
		r.mu.Lock()
		r.sticky.put(sk, i)
		r.inUse[k]++
		r.mu.Unlock()
		return &Lease{Egress: e, Key: k, Probe: adm.Probe, Moved: had && prev != i, r: r, release: release, lost: lost}, nil
	}
	if storeErr != nil && until.IsZero() {
		until = time.Now().Add(StoreBackoff)
	} else {
		storeErr = nil // another egress's refusal says when
	}
	return nil, &UnavailableError{Provider: pk, Blocked: blocked, Sessions: sessions, Until: until, Err: storeErr}
}

// storeDown is Route's refusal when the health store failed (err, a
// *StoreError): no session on a pair whose back-off cannot be read.
func storeDown(pk string, err error) *UnavailableError {
	return &UnavailableError{Provider: pk, Until: time.Now().Add(StoreBackoff), Err: err}
}

// candidates lists the egresses allowed for provider: the sticky one
// first, then by fewest sessions in use (r.mu held).
func (r *Router) candidates(provider, pk string, prev int, had bool) []int {
	var out []int
	for i := range r.egresses {
		if r.egresses[i].Serves(provider, r.pinned) {
			out = append(out, i)
		}
	}
	use := func(i int) int { return r.inUse[Key{Egress: r.egresses[i].ID(), Provider: pk}] }
	// Insertion sort: pools are small and the order must be stable.
	for a := 1; a < len(out); a++ {
		for b := a; b > 0 && use(out[b]) < use(out[b-1]); b-- {
			out[b], out[b-1] = out[b-1], out[b]
		}
	}
	if had {
		for j, i := range out {
			if i == prev {
				copy(out[1:j+1], out[:j])
				out[0] = prev
				break
			}
		}
	}
	return out
}

// Take spends n commands of the lease's budget (see Budgets.Take): call it
// before each RCPT batch, catch-all probe, canary or retry.
//
// Once the lease's hold is lost (see Budgets.AcquireWatched) it refuses
// every Take: the session must end. A failure of the budget store is an
// *UnavailableError with Err set and Until StoreBackoff away.
func (l *Lease) Take(n int) error {
	select {
	case <-l.lost:
		return &UnavailableError{Provider: l.Key.Provider, Until: time.Now().Add(StoreBackoff), Err: ErrHoldLost}
	default:
	}
	err := l.r.budgets.Take(l.Key, n)
	if err != nil && !errors.Is(err, ErrExhausted) {
		return storeDown(l.Key.Provider, storeError("budget", l.Key, err))
	}
	return err
}

// ErrHoldLost says a session's hold in the budget store lapsed or could
// not be renewed in time: the session must end.
var ErrHoldLost = errors.New("egress: session hold lost (budget store out of reach)")

// Lost is closed when the lease's session hold is lost (see
// Budgets.AcquireWatched): the session must end at once. Nil, never
// closed, without a budget store.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Observe classifies a reply the session drew from host and applies it to
// the lease's pair (see Health.Observe).
func (l *Lease) Observe(host string, rep Reply) (Finding, error) {
	f, err := l.r.health.Observe(l.Key, host, rep)
	if f.Verdict.Against() {
		l.resolve()
	}
	return f, err
}

// SoftLimited reports that a canary on this session was accepted: the
// provider accepts everything from this egress (see Health.Report).
func (l *Lease) SoftLimited(host string, canary Reply) error {
	l.resolve()
	return l.r.health.Report(l.Key, Evidence{Host: host, Reply: canary, Finding: Finding{
		Verdict: SoftLimited, Provider: l.Key.Provider, Rule: "canary-accepted",
		Meaning: "The server accepted a random address it had refused before: it now accepts everyone from this egress, so its acceptances prove nothing.",
		Advice:  "Back off this provider on this egress; the acceptances since the last refused canary are unknown.",
	}})
}

// Success reports mailbox answers on this session: a probe returns its
// pair to service.
func (l *Lease) Success() error {
	l.resolve()
	return l.r.health.Success(l.Key)
}

func (l *Lease) resolve() {
	l.mu.Lock()
	l.resolved = true
	l.mu.Unlock()
}

// Release ends the lease (safe to call more than once); a probe that
// reported nothing is given back for the next session.
func (l *Lease) Release() {
	l.once.Do(func() {
		l.release()
		l.r.mu.Lock()
		l.r.inUse[l.Key]--
		if l.r.inUse[l.Key] <= 0 {
			delete(l.r.inUse, l.Key)
		}
		l.r.mu.Unlock()
		l.mu.Lock()
		resolved := l.resolved
		l.mu.Unlock()
		if l.Probe && !resolved {
			_ = l.r.health.EndProbe(l.Key)
		}
	})
}

// EgressStatus is one egress's report: its health per provider and what
// it has spent, for GET /v1/egress-style reporting.
type EgressStatus struct {
	Egress string       `json:"egress"`
	What   string       `json:"what"`
	Pairs  []PairStatus `json:"pairs"`
}

// PairStatus is one (egress, provider) pair's health and budget use.
type PairStatus struct {
	Status
	Used Usage `json:"used"`
}

// Snapshot reports every egress with the pairs the health store knows.
func (r *Router) Snapshot() ([]EgressStatus, error) {
	st, err := r.health.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("egress: snapshot: %w", err)
	}
	out := make([]EgressStatus, len(r.egresses))
	at := map[string]int{}
	for i := range r.egresses {
		out[i] = EgressStatus{Egress: r.egresses[i].ID(), What: r.egresses[i].String(), Pairs: []PairStatus{}}
		at[out[i].Egress] = i
	}
	for _, s := range st {
		if i, ok := at[s.Egress]; ok {
			out[i].Pairs = append(out[i].Pairs, PairStatus{Status: s, Used: r.budgets.Usage(s.Key)})
		}
	}
	return out, nil
}
