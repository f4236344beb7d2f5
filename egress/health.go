package egress

import (
	"errors"
	"sync"
	"time"
)

// A Policy shapes the back-off of the health state machine.
type Policy struct {
	// Backoff is the ladder of waits, one per tier; nil means 2m, 15m, 1h,
	// 6h, 24h. A repeated refusal climbs one tier; the last one repeats.
	Backoff []time.Duration
	// ThrottleTier, SoftLimitTier and BlockTier are the tiers (from 1)
	// each verdict starts at; zero means 1, 2 and 3 (2m, 15m, 1h).
	ThrottleTier, SoftLimitTier, BlockTier int
	// ProbeTimeout is how long a half-open probe session may stay out
	// before another is given; zero means 10m.
	ProbeTimeout time.Duration
	// Relapse: a refusal within this time of a recovery continues the
	// ladder where it stopped instead of starting over; zero means 24h.
	Relapse time.Duration
}

// DefaultBackoff is the back-off ladder when Policy.Backoff is nil.
var DefaultBackoff = []time.Duration{2 * time.Minute, 15 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour}

func (p *Policy) backoff(tier int) time.Duration {
	b := p.Backoff
	if len(b) == 0 {
		b = DefaultBackoff
	}
	return b[min(max(tier, 1), len(b))-1]
}

func (p *Policy) maxTier() int {
	if len(p.Backoff) == 0 {
		return len(DefaultBackoff)
	}
	return len(p.Backoff)
}

func (p *Policy) startTier(v Verdict) int {
	switch v {
	case Blocked:
		return orDefault(p.BlockTier, 3)
	case SoftLimited:
		return orDefault(p.SoftLimitTier, 2)
	}
	return orDefault(p.ThrottleTier, 1)
}

func orDefault[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// An EgressEvent reports a state change of one (egress, provider) pair,
// with the evidence that caused it (nil for the half-open and recovery
// steps, which the clock and a probe cause).
type EgressEvent struct {
	Time     time.Time `json:"time"`
	Egress   string    `json:"egress"`
	Provider string    `json:"provider"`
	From     State     `json:"from"`
	To       State     `json:"to"`
	Tier     int       `json:"tier,omitempty"`
	Until    time.Time `json:"until,omitzero"`
	Evidence *Evidence `json:"evidence,omitempty"`
}

// Health is the state machine of every (egress, provider) pair: healthy,
// throttled (back off), soft-limited, blocked (quarantine), half-open (one
// probe session) and back. The zero value works, with the default Policy,
// an in-memory Store and the system clock. It is safe for concurrent use
// (the Store arbitrates between processes).
type Health struct {
	Policy Policy
	// Store keeps the records; nil means a MemStore.
	Store Store
	// Hook, when set, receives every state change, on the goroutine that
	// caused it, after the change is stored. It must not block.
	Hook func(EgressEvent)
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	once sync.Once
	mem  *MemStore
}

// ErrStoreBusy reports a record that other writers kept changing.
var ErrStoreBusy = errors.New("egress: health record changed under every retry")

func (h *Health) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Health) store() Store {
	if h.Store != nil {
		return h.Store
	}
	h.once.Do(func() { h.mem = &MemStore{} })
	return h.mem
}

// An Admission is Health's answer to whether a session may start.
type Admission struct {
	OK bool
	// Probe: the session is the half-open probe; report its outcome
	// (Success or Observe) so the pair returns to service or backs off.
	Probe bool
	State State
	// Until, when not OK, is when to ask again.
	Until time.Time
}

// Admit says whether a session for k may start now. A pair whose back-off
// has ended turns half-open and gives out one probe session at a time.
func (h *Health) Admit(k Key) (Admission, error) {
	var a Admission
	err := h.update(k, func(r *Record, now time.Time) (*EgressEvent, bool) {
		a = Admission{State: r.State}
		switch {
		case r.State == StateHealthy:
			a.OK = true
			return nil, false
		case r.State.Adverse() && now.Before(r.Until):
			a.Until = r.Until
			return nil, false
		case r.State == StateHalfOpen && now.Before(r.ProbeUntil):
			a.Until = r.ProbeUntil
			return nil, false
		}
		var ev *EgressEvent
		if r.State != StateHalfOpen {
			ev = &EgressEvent{From: r.State, To: StateHalfOpen, Tier: r.Tier}
			r.State, r.Since = StateHalfOpen, now
		}
		r.ProbeUntil = now.Add(orDefault(h.Policy.ProbeTimeout, 10*time.Minute))
		a = Admission{OK: true, Probe: true, State: StateHalfOpen}
		return ev, true
	})
	return a, err
}

// BackedOff reports, without changing anything, whether k is backed off
// now (an adverse state before its Until, or a probe out), and until when.
func (h *Health) BackedOff(k Key) (bool, time.Time, error) {
	r, _, err := h.store().Get(k)
	if err != nil {
		return false, time.Time{}, storeError("health", k, err)
	}
	now := h.now()
	switch {
	case r.State.Adverse() && now.Before(r.Until):
		return true, r.Until, nil
	case r.State == StateHalfOpen && now.Before(r.ProbeUntil):
		return true, r.ProbeUntil, nil
	}
	return false, time.Time{}, nil
}

// Observe classifies a reply a session for k drew from host and applies
// the finding (see Report); it returns the finding, so that the caller can
// also end the address well (unknown, never undeliverable, when the reply
// is about the egress).
func (h *Health) Observe(k Key, host string, rep Reply) (Finding, error) {
	f := Classify(rep)
	return f, h.Report(k, Evidence{Host: host, Reply: rep, Finding: f})
}

// Report applies evidence to k: a Throttled, SoftLimited or Blocked
// finding starts or lengthens a back-off (a half-open probe that draws one
// climbs a tier; a more severe verdict replaces a milder one); None and
// ReceiverMisconfigured change nothing. The engine reports soft limits
// found by its canaries as Evidence{Finding: Finding{Verdict: SoftLimited}}.
func (h *Health) Report(k Key, ev Evidence) error {
	v := ev.Finding.Verdict
	if !v.Against() {
		return nil
	}
	return h.update(k, func(r *Record, now time.Time) (*EgressEvent, bool) {
		if ev.At.IsZero() {
			ev.At = now
		}
		to := stateOf(v)
		tier := h.Policy.startTier(v)
		switch {
		case r.State.Adverse() && now.Before(r.Until):
			// Another report of the same episode (sessions opened before
			// it began): only a more severe verdict changes anything.
			if to <= r.State {
				return nil, false
			}
			tier = max(tier, r.Tier)
		case r.State != StateHealthy, r.Tier > 0 && now.Sub(r.Recovered) < orDefault(h.Policy.Relapse, 24*time.Hour):
			// A failed probe, a refusal after the back-off ended, or a
			// relapse soon after recovering: one tier further.
			tier = max(tier, r.Tier+1)
		}
		tier = min(tier, h.Policy.maxTier())
		from := r.State
		r.State, r.Since, r.Tier = to, now, tier
		r.Until = now.Add(h.Policy.backoff(tier))
		r.ProbeUntil = time.Time{}
		r.Evidence = &ev
		return &EgressEvent{From: from, To: to, Tier: tier, Until: r.Until, Evidence: &ev}, true
	})
}

func stateOf(v Verdict) State {
	switch v {
	case Blocked:
		return StateBlocked
	case SoftLimited:
		return StateSoftLimited
	}
	return StateThrottled
}

// Success reports that a session for k drew mailbox answers: a half-open
// pair returns to StateHealthy. In other states it changes nothing.
func (h *Health) Success(k Key) error {
	return h.update(k, func(r *Record, now time.Time) (*EgressEvent, bool) {
		if r.State != StateHalfOpen {
			return nil, false
		}
		r.State, r.Since, r.Recovered = StateHealthy, now, now
		r.Until, r.ProbeUntil = time.Time{}, time.Time{}
		return &EgressEvent{From: StateHalfOpen, To: StateHealthy, Tier: r.Tier}, true
	})
}

// EndProbe gives back a probe session that ended with neither a success
// nor a finding (a timeout, a dropped connection), so that the next
// session may probe at once instead of after Policy.ProbeTimeout.
func (h *Health) EndProbe(k Key) error {
	return h.update(k, func(r *Record, _ time.Time) (*EgressEvent, bool) {
		if r.State != StateHalfOpen || r.ProbeUntil.IsZero() {
			return nil, false
		}
		r.ProbeUntil = time.Time{}
		return nil, true
	})
}

// A Status is one pair's health, for reports such as GET /v1/egress.
type Status struct {
	Key
	Record
	// Meaning and Advice explain the last evidence in plain words.
	Meaning string `json:"meaning,omitempty"`
	Advice  string `json:"advice,omitempty"`
}

// Snapshot returns every pair the store knows, in key order. A pair
// never reported on is healthy and absent.
func (h *Health) Snapshot() ([]Status, error) {
	es, err := h.store().List()
	if err != nil {
		return nil, err
	}
	out := make([]Status, len(es))
	for i, e := range es {
		out[i] = Status{Key: e.Key, Record: e.Record}
		if ev := e.Record.Evidence; ev != nil {
			out[i].Meaning, out[i].Advice = ev.Finding.Meaning, ev.Finding.Advice
		}
	}
	return out, nil
}

// State returns k's record (the zero Record, StateHealthy, when none).
func (h *Health) State(k Key) (Record, error) {
	r, _, err := h.store().Get(k)
	return r, storeError("health", k, err)
}

// update runs fn on k's record under compare-and-set, retrying on
// conflicts, and delivers the event fn returns once the record is stored.
func (h *Health) update(k Key, fn func(r *Record, now time.Time) (*EgressEvent, bool)) error {
	st := h.store()
	for range 16 {
		r, rev, err := st.Get(k)
		if err != nil {
			return storeError("health", k, err)
		}
		now := h.now()
		ev, changed := fn(&r, now)
		if !changed {
			return nil
		}
		if _, err := st.Put(k, r, rev); errors.Is(err, ErrConflict) {
			continue
		} else if err != nil {
			return storeError("health", k, err)
		}
		if ev != nil && h.Hook != nil {
			ev.Time, ev.Egress, ev.Provider = now, k.Egress, k.Provider
			h.Hook(*ev)
		}
		return nil
	}
	return storeError("health", k, ErrStoreBusy)
}
