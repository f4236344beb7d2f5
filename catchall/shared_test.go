package catchall

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/smtpprobe"
)

// mapStore is a Store in memory, as another process's answers.
type mapStore struct {
	mu    sync.Mutex
	m     map[Question]Status
	saved map[Question]time.Time
	loads int
}

func (s *mapStore) Load(domain, host string) (Status, time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads++
	q := Question{Domain: domain, Host: host}
	st, ok := s.m[q]
	at, dated := s.saved[q]
	if !dated {
		at = time.Now()
	}
	return st, at, ok
}

func (s *mapStore) Save(domain, host string, st Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[Question{Domain: domain, Host: host}] = st
}

// An answer from the store lives until its own save time plus the TTL,
// not a TTL from when it was loaded: passed from store to cache to store,
// it would otherwise never expire.
func TestSharedAnswerKeepsItsAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := Question{Domain: "example.com", Host: "mx.example.com"}
		old := Question{Domain: "old.com", Host: "mx.old.com"}
		store := &mapStore{m: map[Question]Status{q: No, old: No},
			saved: map[Question]time.Time{q: time.Now().Add(-50 * time.Minute), old: time.Now().Add(-2 * time.Hour)}}
		d := &Detector{Shared: store}
		p := d.Begin([]Question{q, old})
		if len(p.Addrs()) != 1 {
			t.Fatalf("%d probes; want 1, for the answer older than the TTL", len(p.Addrs()))
		}
		p.Finish(t.Context(), []smtpprobe.Result{{Outcome: smtpprobe.Timeout}})
		if st, ok := d.Cached(q.Domain, q.Host); !ok || st != No {
			t.Fatalf("cached %v %v; want No", st, ok)
		}
		time.Sleep(11 * time.Minute)
		if st, ok := d.Cached(q.Domain, q.Host); ok {
			t.Errorf("an answer saved 61 minutes ago is still cached: %v", st)
		}
	})
}

func TestSharedStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &testsmtp.Server{} // accepts every recipient
		defer srv.Close()
		store := &mapStore{m: map[Question]Status{}}
		a := &Detector{Shared: store}
		if st, r := a.Check(t.Context(), session(t, srv), "example.com", "mx.example.com"); st != Yes || r == nil {
			t.Fatalf("first detector: %v %v; want a probe saying Yes", st, r)
		}
		if store.m[Question{Domain: "example.com", Host: "mx.example.com"}] != Yes {
			t.Fatalf("store %v; want the answer saved", store.m)
		}
		// Another process asks the same question: answered from the store,
		// no probe; a question about another host is still probed.
		b := &Detector{Shared: store}
		s := session(t, srv)
		before := srv.Count("RCPT")
		if st, r := b.Check(t.Context(), s, "example.com", "mx.example.com"); st != Yes || r != nil {
			t.Errorf("second detector: %v %v; want Yes from the store without a probe", st, r)
		}
		if _, r := b.Check(t.Context(), s, "example.com", "mx2.example.com"); r == nil {
			t.Error("another host's answer came from the store")
		}
		if n := srv.Count("RCPT") - before; n != 1 {
			t.Errorf("%d probes by the second detector; want 1", n)
		}
		// Unknown is never shared; Record shares what the caller proved.
		b.Record("other.com", "mx.other.com", No)
		b.Record("third.com", "mx.third.com", Unknown)
		if store.m[Question{Domain: "other.com", Host: "mx.other.com"}] != No {
			t.Error("Record did not share a No")
		}
		if _, ok := store.m[Question{Domain: "third.com", Host: "mx.third.com"}]; ok {
			t.Error("an Unknown was shared")
		}
	})
}
