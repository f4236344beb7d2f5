package egress

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A Key names what health and budgets are kept for: one egress (its ID)
// and one provider. An unidentified provider is its mail server: see
// ProviderKey.
type Key struct {
	Egress   string `json:"egress"`
	Provider string `json:"provider"`
}

// String returns "egress/provider".
func (k Key) String() string { return k.Egress + "/" + k.Provider }

// ProviderKey is the provider part of a Key: the provider's name, or for
// a server no provider is known for, "server:" and its address, so that
// one small server's block never quarantines an egress for all others.
func ProviderKey(provider, server string) string {
	if provider != "" {
		return provider
	}
	return "server:" + server
}

// A State is where an (egress, provider) pair stands.
type State int

// The states. An adverse state (throttled, soft-limited, blocked) lasts
// until its back-off ends; then StateHalfOpen lets one probe session
// through, whose mailbox answers return the pair to StateHealthy and whose
// egress refusal sends it back, one back-off tier further.
const (
	StateHealthy State = iota
	StateThrottled
	StateSoftLimited
	StateBlocked
	StateHalfOpen
)

var stateNames = [...]string{"healthy", "throttled", "soft_limited", "blocked", "half_open"}

func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText implements encoding.TextMarshaler.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler, for stores that keep
// records as JSON.
func (s *State) UnmarshalText(b []byte) error {
	i := slices.Index(stateNames[:], strings.ToLower(string(b)))
	if i < 0 {
		return errors.New("egress: unknown state " + strconv.Quote(string(b)))
	}
	*s = State(i)
	return nil
}

// Adverse reports a state in which no session may start before Until.
func (s State) Adverse() bool {
	return s == StateThrottled || s == StateSoftLimited || s == StateBlocked
}

// Evidence is what made the state change: the reply, the mail server
// (host name or address) that sent it, and what Classify found.
type Evidence struct {
	At      time.Time `json:"at"`
	Host    string    `json:"host,omitempty"`
	Reply   Reply     `json:"reply"`
	Finding Finding   `json:"finding"`
}

// A Record is the health of one Key, as a Store keeps it (JSON-ready).
type Record struct {
	State State     `json:"state"`
	Since time.Time `json:"since,omitzero"`
	// Tier is the back-off step in force or last used (1 for the first
	// Policy.Backoff entry); 0: none yet.
	Tier int `json:"tier,omitempty"`
	// Until ends an adverse state's back-off.
	Until time.Time `json:"until,omitzero"`
	// ProbeUntil, in StateHalfOpen, is when the probe session given out
	// counts as lost and another may be given.
	ProbeUntil time.Time `json:"probe_until,omitzero"`
	// Recovered is when the pair last returned to StateHealthy.
	Recovered time.Time `json:"recovered,omitzero"`
	Evidence  *Evidence `json:"evidence,omitempty"`
}

// A Store keeps health records, so that a cluster can share them and a
// restart keeps the back-off. It is a compare-and-set map, the shape of a
// JetStream KV bucket: Get returns a record and its revision (0: none);
// Put stores one if the stored revision is still rev (0: only if absent)
// and returns the new revision, else fails with ErrConflict. A Store must
// be safe for concurrent use.
type Store interface {
	Get(k Key) (Record, uint64, error)
	Put(k Key, r Record, rev uint64) (uint64, error)
	List() ([]Entry, error)
}

// An Entry is one record of a Store's List.
type Entry struct {
	Key    Key    `json:"key"`
	Record Record `json:"record"`
}

// ErrConflict is a Store's answer to a Put whose revision is stale.
var ErrConflict = errors.New("egress: store revision conflict")

// A StoreError is a failure of the store behind Health ("health") or
// Budgets ("budget") for one pair: a cluster's KV that timed out or is out
// of reach, or a record other writers kept changing past every retry
// (ErrStoreBusy, ErrConflict). It is a fact about the verifier's own
// bookkeeping, neither about the egress nor about a mail server or a
// mailbox. The Router turns it into an *UnavailableError with Err set and
// Until StoreBackoff away: no session starts on a pair whose health or
// budget cannot be read (a back-off or a budget is never overrun), and
// package verify ends the address unknown/rate_limited with that
// retry_after, which a cluster parks and tries again. errors.Is(err,
// ErrStore) matches every StoreError; Unwrap gives the store's own error.
type StoreError struct {
	Store string // "health" or "budget"; "health or budget" where a call was given up on before either answered
	Key   Key
	Err   error
}

// ErrStore matches every *StoreError.
var ErrStore = errors.New("egress: store failed")

func (e *StoreError) Error() string {
	return "egress: the " + e.Store + " store failed for " + e.Key.String() + ": " + e.Err.Error()
}

// Unwrap returns the store's error.
func (e *StoreError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrStore) hold.
func (e *StoreError) Is(target error) bool { return target == ErrStore }

// storeError wraps err, a failure of the what store for k, in a
// *StoreError unless it is one already or a budget's refusal.
func storeError(what string, k Key, err error) error {
	var se *StoreError
	if err == nil || errors.As(err, &se) || errors.Is(err, ErrExhausted) {
		return err
	}
	return &StoreError{Store: what, Key: k, Err: err}
}

// MemStore is the in-memory Store; the zero value is ready.
type MemStore struct {
	mu  sync.Mutex
	m   map[Key]memEntry
	rev uint64
}

type memEntry struct {
	r   Record
	rev uint64
}

// Get implements Store.
func (s *MemStore) Get(k Key) (Record, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[k]
	return e.r, e.rev, nil
}

// Put implements Store.
func (s *MemStore) Put(k Key, r Record, rev uint64) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[k].rev != rev {
		return 0, ErrConflict
	}
	if s.m == nil {
		s.m = map[Key]memEntry{}
	}
	s.rev++
	s.m[k] = memEntry{r: r, rev: s.rev}
	return s.rev, nil
}

// List implements Store, in key order.
func (s *MemStore) List() ([]Entry, error) {
	s.mu.Lock()
	out := make([]Entry, 0, len(s.m))
	for k, e := range s.m {
		out = append(out, Entry{Key: k, Record: e.r})
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Key.String(), b.Key.String()) })
	return out, nil
}
