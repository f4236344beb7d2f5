// Package catchall decides whether a domain's mail server accepts every
// recipient. It asks, on an open SMTP session and after the real
// addresses, about a random local part that no one would choose; a server
// that accepts it accepts everything, so its "accepted" says little.
//
// Answers are cached per domain for a TTL and shared between concurrent
// callers. A 4xx, a disconnect or any other unclear answer to the probe is
// Unknown, never No.
package catchall

import (
	"context"
	"crypto/rand"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/mailverify/mailverify/smtpprobe"
	"golang.org/x/sync/singleflight"
)

// Status is what the probe learned.
type Status int

const (
	Unknown Status = iota // the probe could not tell
	No                    // the server rejected the random address
	Yes                   // the server accepted the random address
)

// String returns "yes", "no" or "unknown".
func (s Status) String() string {
	switch s {
	case No:
		return "no"
	case Yes:
		return "yes"
	}
	return "unknown"
}

// MarshalText implements encoding.TextMarshaler: "yes", "no" or "unknown".
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Status) UnmarshalText(b []byte) error {
	switch string(b) {
	case "yes":
		*s = Yes
	case "no":
		*s = No
	case "unknown":
		*s = Unknown
	default:
		return errors.New("catchall: unknown status " + strconv.Quote(string(b)))
	}
	return nil
}

// notCatchAll names the providers (mx.Provider values) whose servers are
// known to reject unknown recipients at RCPT for every domain they host,
// so probing them costs a round trip for nothing.
var notCatchAll = map[string]bool{
	"google":  true, // Gmail and Workspace: 550 5.1.1 for unknown users
	"outlook": true, // outlook.com consumer mailboxes
	"icloud":  true,
	"proton":  true,
	"gmx":     true,
	"yandex":  true,
	"mailru":  true,
	"zoho":    true,
}

// KnownNotCatchAll reports whether provider (an mx.Provider) is known to
// reject unknown recipients.
func KnownNotCatchAll(provider string) bool { return notCatchAll[provider] }

// RandomLocalPart returns a local part no one would choose: 24 characters
// of lower-case letters and digits from crypto/rand, alternating so that it
// reads as no name.
func RandomLocalPart() string {
	const letters, digits = "bcdfghjklmnpqrstvwxz", "0123456789"
	var b [24]byte
	rand.Read(b[:])
	for i := range b {
		if i%3 == 2 {
			b[i] = digits[int(b[i])%len(digits)]
		} else {
			b[i] = letters[int(b[i])%len(letters)]
		}
	}
	return string(b[:])
}

// A Detector runs and caches catch-all probes. The zero value is ready to
// use; a Detector is safe for concurrent use.
type Detector struct {
	// TTL is how long a Yes or No is cached per domain; zero means 1h.
	TTL time.Duration

	mu     sync.Mutex
	cache  map[string]entry
	probes map[string]string // domain -> the random address in use
	group  singleflight.Group
	now    func() time.Time // for tests
}

type entry struct {
	status  Status
	expires time.Time
}

func (d *Detector) clock() time.Time {
	if d.now != nil {
		return d.now()
	}
	return time.Now()
}

// Cached returns the cached answer for domain, if any.
func (d *Detector) Cached(domain string) (Status, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.cache[domain]
	if !ok || !d.clock().Before(e.expires) {
		return Unknown, false
	}
	return e.status, true
}

// Check returns whether domain is catch-all, probing on s (an open session
// to one of its mail servers) unless the answer is cached. Concurrent
// checks of one domain share one probe. The probe's result is returned
// too, nil when none was sent by this caller.
func (d *Detector) Check(ctx context.Context, s *smtpprobe.Session, domain string) (Status, *smtpprobe.Result) {
	if st, ok := d.Cached(domain); ok {
		return st, nil
	}
	// Do, not DoChan: the probe runs in this goroutine, on this caller's
	// session, which no other goroutine may touch. Concurrent callers for
	// the same domain wait for it.
	var mine *smtpprobe.Result
	v, _, _ := d.group.Do(domain, func() (any, error) {
		r := s.Probe(ctx, d.probeAddress(domain))[0]
		mine = &r
		st := classify(r.Outcome)
		if st != Unknown {
			ttl := d.TTL
			if ttl <= 0 {
				ttl = time.Hour
			}
			d.mu.Lock()
			if d.cache == nil {
				d.cache = make(map[string]entry)
			}
			d.prune()
			d.cache[domain] = entry{st, d.clock().Add(ttl)}
			delete(d.probes, domain)
			d.mu.Unlock()
		}
		return st, nil
	})
	return v.(Status), mine
}

// maxEntries bounds the cache and the pending probe addresses, so a
// long-running Verifier does not grow without bound.
const maxEntries = 50000

// prune drops expired answers when the cache is full, and half of the
// rest if that is not enough. d.mu is held.
func (d *Detector) prune() {
	if len(d.cache) < maxEntries {
		return
	}
	now := d.clock()
	for k, e := range d.cache {
		if !now.Before(e.expires) {
			delete(d.cache, k)
		}
	}
	for k := range d.cache {
		if len(d.cache) < maxEntries/2 {
			break
		}
		delete(d.cache, k)
	}
}

// probeAddress returns the random address probed at domain. It stays the
// same until a probe gives a definite answer, so that a greylisting server
// that deferred it once accepts or rejects it on the retry (greylisting
// keys on the sender, recipient and client triplet).
func (d *Detector) probeAddress(domain string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.probes == nil {
		d.probes = make(map[string]string)
	}
	a, ok := d.probes[domain]
	if !ok {
		if len(d.probes) >= maxEntries {
			clear(d.probes) // only greylisting continuity is lost
		}
		a = RandomLocalPart() + "@" + domain
		d.probes[domain] = a
	}
	return a
}

func classify(o smtpprobe.Outcome) Status {
	switch o {
	case smtpprobe.Accepted, smtpprobe.CannotVerify:
		return Yes
	case smtpprobe.MailboxNotFound, smtpprobe.MailboxDisabled:
		return No
	}
	return Unknown
}
