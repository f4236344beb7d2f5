package catchall

import (
	"sync"
	"testing"
	"testing/synctest"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// mapStore is a Store in memory, as another process's answers.
type mapStore struct {
	mu    sync.Mutex
	m     map[Question]Status
	loads int
}

func (s *mapStore) Load(domain, host string) (Status, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads++
	st, ok := s.m[Question{domain, host}]
	return st, ok
}

func (s *mapStore) Save(domain, host string, st Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[Question{domain, host}] = st
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
		if store.m[Question{"example.com", "mx.example.com"}] != Yes {
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
		if store.m[Question{"other.com", "mx.other.com"}] != No {
			t.Error("Record did not share a No")
		}
		if _, ok := store.m[Question{"third.com", "mx.third.com"}]; ok {
			t.Error("an Unknown was shared")
		}
	})
}
