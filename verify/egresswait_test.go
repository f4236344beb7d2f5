package verify

import (
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailverify/mailverify/egress"
)

// sharedStore is a cluster's egress store in one process: health and
// budgets, which every Verifier and Budgets on it share.
type sharedStore struct {
	egress.MemStore
	egress.MemBudgetStore
}

// killedStore is the store as a process sees it that was killed: from
// then on it renews nothing.
type killedStore struct {
	egress.BudgetStore
	dead atomic.Bool
}

var errKilled = errors.New("killed")

func (s *killedStore) GetBudget(k egress.Key) (egress.Spending, uint64, error) {
	if s.dead.Load() {
		return egress.Spending{}, 0, errKilled
	}
	return s.BudgetStore.GetBudget(k)
}

func (s *killedStore) PutBudget(k egress.Key, sp egress.Spending, rev uint64) (uint64, error) {
	if s.dead.Load() {
		return 0, errKilled
	}
	return s.BudgetStore.PutBudget(k, sp, rev)
}

// TestEgressWaitPastTimeoutIsRateLimited: a killed process holds the
// shared egress's only Google session for 3 s, and the domain has two
// Google MX hosts. Every address tried before the hold lapses waits for
// the session within its Timeout of 1 s and, past it, ends
// unknown/rate_limited with retry_after (the rule for addresses
// past their budget; a cluster parks them), not unknown/timeout, which a
// cluster stores as the answer: the wait for the first host ended at the
// deadline, the address moved on to the second host with its deadline
// passed, and the deadline timer ended it there as a timeout. Addresses
// tried after the hold lapsed end right (check: never a wrong verdict).
func TestEgressWaitPastTimeoutIsRateLimited(t *testing.T) {
	w := newEgressWorld(t, "", sourceRule{})
	w.res.MX["pool-mail.com"] = []*net.MX{{Host: "gmail-smtp-in.l.google.com", Pref: 5}, {Host: "alt1.gmail-smtp-in.l.google.com", Pref: 10}}
	for _, h := range w.res.MX["pool-mail.com"] {
		w.res.IP[h.Host] = []netip.Addr{netip.MustParseAddr("127.0.3.1")}
	}
	v, _ := w.verifier(t, 1, googleOneSession)
	v.Timeout = time.Second
	holdGoogleSession(t, v, 0)
	// The first addresses' Timeout ends 2 s before the lapse.
	wantRateLimited(t, w, v, "until the hold lapses, the right verdict after")
}

// googleOneSession is a profile table that lets one session at a time
// through an egress to Google.
const googleOneSession = `{"about": "test", "profiles": [
 {"provider": "default", "per_minute": 1000, "sessions": 4, "sources": {"per_minute": "test", "sessions": "test"}},
 {"provider": "google", "per_minute": 1000, "sessions": 1, "sources": {"per_minute": "test", "sessions": "test"}}]}`

// holdGoogleSession gives v a shared store in which a killed process
// holds egress eg's only Google session (googleOneSession) until its
// lease's SessionTTL of 3 s lapses.
func holdGoogleSession(t *testing.T, v *Verifier, eg int) {
	t.Helper()
	store := &sharedStore{}
	v.EgressStore = store
	ghost := &killedStore{BudgetStore: &store.MemBudgetStore}
	gb := &egress.Budgets{Profiles: v.Profiles, Store: ghost, SessionTTL: 3 * time.Second}
	if _, err := gb.Acquire(egress.Key{Egress: v.Egresses[eg].ID(), Provider: "google"}); err != nil {
		t.Fatal(err)
	}
	ghost.dead.Store(true)
}

// wantRateLimited checks w's verdicts by v (w.check) and that each
// unknown is rate_limited with retry_after (why: what else is wanted),
// at least one.
func wantRateLimited(t *testing.T, w *egressWorld, v *Verifier, why string) {
	t.Helper()
	limited := 0
	for a, r := range w.check(t, v) {
		switch {
		case r.Status == Unknown && r.Reason == ReasonRateLimited && r.RetryAfter > 0:
			limited++
		case r.Status == Unknown:
			t.Errorf("%s: %s/%s retry_after %v (%s); want unknown/rate_limited with retry_after %s",
				a, r.Status, r.Reason, time.Duration(r.RetryAfter), r.Error, why)
		}
	}
	if limited == 0 {
		t.Error("no address waited for the held session")
	}
}
