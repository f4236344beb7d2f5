// Package feedback turns what happened to mail already sent — delivery
// status notifications (RFC 3464), ESP bounce records — into per-address
// history, the first-party evidence that resolves what SMTP probing
// cannot: an address on a catch-all domain that bounced is gone, one that
// took mail last week exists.
package feedback

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// Kind is what happened to a message for a recipient.
type Kind int

const (
	// Delivered: the receiving server took the message (RFC 3464 Action
	// "delivered", or an ESP's delivery event).
	Delivered Kind = iota + 1
	// HardBounce: a permanent failure (Action "failed" with a 5.x.x
	// status).
	HardBounce
	// SoftBounce: a temporary failure (Action "delayed", or "failed"
	// with a 4.x.x status); it proves nothing about the mailbox.
	SoftBounce
)

func (k Kind) String() string {
	switch k {
	case Delivered:
		return "delivered"
	case HardBounce:
		return "hard_bounce"
	case SoftBounce:
		return "soft_bounce"
	}
	return "unknown"
}

// An Event is one recipient's outcome of one message.
type Event struct {
	Address string    // the recipient, as the report names it
	Kind    Kind      // what happened
	Status  string    // the RFC 3463 status, "5.1.1"
	Reply   string    // the remote server's diagnostic, "smtp; 550 5.1.1 ..."
	At      time.Time // when (the report's date, or the record's)
	Source  string    // where the event came from: "dsn", "esp"
}

// Key is how History stores an address: the local part as given, the
// domain in lower case (RFC 5321 lets a local part be case-sensitive; no
// server we know of makes it so, but evidence is not to be shared across
// spellings a server may tell apart).
func Key(address string) string {
	address = strings.TrimSpace(strings.Trim(strings.TrimSpace(address), "<>"))
	at := strings.LastIndexByte(address, '@')
	if at < 0 {
		return address
	}
	return address[:at] + "@" + strings.ToLower(address[at+1:])
}

// ClockSkew is how far past now an event's date may lie and still be
// taken for now: reports come from other machines' clocks.
const ClockSkew = 5 * time.Minute

// InFuture reports whether e is dated more than ClockSkew past now. Such
// a date is wrong, and no evidence of when: believed, the event would be
// recent forever.
func (e Event) InFuture(now time.Time) bool { return e.At.After(now.Add(ClockSkew)) }

// Dated returns e with a date past now replaced by now: an event did not
// happen after it was recorded. Histories store events Dated.
func (e Event) Dated(now time.Time) Event {
	if e.At.After(now) {
		e.At = now
	}
	return e
}

// Newer reports whether a history that holds prev keeps it when told of
// e: prev happened later. A date past now counts as now, so that an event
// stored with a wrong date in the future does not hide every later one.
func Newer(prev, e Event, now time.Time) bool {
	return prev.Dated(now).At.After(e.Dated(now).At)
}

// A History keeps the latest evidence per address. Implementations are
// safe for concurrent use.
type History interface {
	// Record stores e, unless the history holds a newer event for the
	// address.
	Record(e Event) error
	// Lookup returns the latest event for address.
	Lookup(address string) (Event, bool, error)
}

// Memory is a History in memory, bounded to Max addresses (zero: 100,000);
// when full, it drops the oldest events first.
type Memory struct {
	Max int

	mu sync.Mutex
	m  map[string]Event
}

// Record implements History.
func (h *Memory) Record(e Event) error {
	now := time.Now()
	e = e.Dated(now)
	k := Key(e.Address)
	limit := h.Max
	if limit <= 0 {
		limit = 100000
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = map[string]Event{}
	}
	old, ok := h.m[k]
	if ok && Newer(old, e, now) {
		return nil
	}
	if !ok && len(h.m) >= limit {
		h.evict(limit)
	}
	h.m[k] = e
	return nil
}

// evict drops about the oldest tenth of the events, judged from a sample,
// and more if that is not enough. h.mu is held.
func (h *Memory) evict(limit int) {
	sample := make([]time.Time, 0, 1000)
	for _, e := range h.m {
		if sample = append(sample, e.At); len(sample) == cap(sample) {
			break
		}
	}
	slices.SortFunc(sample, time.Time.Compare)
	cut := sample[len(sample)/10]
	for k, e := range h.m {
		if !e.At.After(cut) {
			delete(h.m, k)
		}
	}
	for k := range h.m {
		if len(h.m) < limit {
			break
		}
		delete(h.m, k)
	}
}

// Lookup implements History.
func (h *Memory) Lookup(address string) (Event, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.m[Key(address)]
	return e, ok, nil
}
