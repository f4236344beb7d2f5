package jobs

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/verify"
)

// Adversarial review of the cluster-wide budgets and the server
// partitions (branch rev-budget). The tests that fail on 02b1e27 are the
// review's findings.

// budgetsDown is the cluster's egress store with its budgets' bucket out
// of reach (a KV that errors): health still works.
type budgetsDown struct{ *EgressStore }

var errBudgetsDown = errors.New("budget store: nats: timeout")

func (budgetsDown) GetBudget(egress.Key) (egress.Spending, uint64, error) {
	return egress.Spending{}, 0, errBudgetsDown
}

func (budgetsDown) PutBudget(egress.Key, egress.Spending, uint64) (uint64, error) {
	return 0, errBudgetsDown
}

// lone verifies one Google address through the shared egress on a
// verifier of its own (no cluster) whose egress store is wrap of the
// cluster's, with the address Timeout given, within 30 s. It fails the
// test if any RCPT went out (a budget store that fails refuses, it is
// never exceeded), and returns the address, its result and how long it
// took.
func lone(t *testing.T, timeout time.Duration, wrap func(*EgressStore) egress.Store) (string, verify.Result, time.Duration) {
	t.Helper()
	w := newEgressWorld(t, "")
	g := w.domains("g", "gmail-smtp-in.l.google.com", 1)
	b := openBus(t, Config{})
	t.Cleanup(b.Close)
	store, err := b.NewEgressStore(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	v := w.verifier(sharedEgress)
	v.Timeout, v.EgressStore = timeout, wrap(store)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	start := time.Now()
	r, err := v.Verify(ctx, g[0])
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if n := w.seen(w.rcpts, "google 127.0.0.2"); n != 0 {
		t.Errorf("%d RCPTs sent with the budget store failing; want none (fail closed)", n)
	}
	return g[0], r, took
}

// rateLimitedBy fails the test unless r is unknown/rate_limited with a
// retry_after, within took's bound.
func rateLimitedBy(t *testing.T, what, addr string, r verify.Result, took, bound time.Duration) {
	t.Helper()
	if r.Status != verify.Unknown || r.Reason != verify.ReasonRateLimited || r.RetryAfter <= 0 || took > bound {
		t.Errorf("%s %s: %s/%s retry_after %v (%s) after %v; want unknown/rate_limited with a retry_after within %v",
			addr, what, r.Status, r.Reason, time.Duration(r.RetryAfter), r.Error, took.Round(time.Millisecond), bound)
	}
}

func downStore(s *EgressStore) egress.Store { return budgetsDown{s} }

// TestReviewBudgetKVDownEndsWithRetryAfter: with mv_budgets out of reach,
// a worker's verifier must neither exceed a budget nor hang: the brief
// says such an address ends unknown/rate_limited with retry_after. On
// 02b1e27 the router's refusal carries no time (Check's error is not an
// *ExhaustedError), so verify polls every 50 ms until the address's
// Timeout and ends it unknown/rate_limited with retry_after 0: the
// caller is not told when to come back (and a Verifier without a
// Timeout would poll for ever).
func TestReviewBudgetKVDownEndsWithRetryAfter(t *testing.T) {
	addr, r, took := lone(t, 3*time.Second, downStore)
	rateLimitedBy(t, "with the budget store down", addr, r, took, 10*time.Second)
}

// TestBudgetKVDownNoTimeout: as TestReviewBudgetKVDownEndsWithRetryAfter
// with a Verifier that has no Timeout: the router's refusal for a store
// that fails must end the address (rate_limited, retry_after), not be
// polled for ever (rev-budget F4).
func TestBudgetKVDownNoTimeout(t *testing.T) {
	addr, r, took := lone(t, 0, downStore)
	rateLimitedBy(t, "with no Timeout and the budget store down", addr, r, took, 10*time.Second)
}

// TestReviewMailServerHostIsStable: a domain whose two MX hosts share a
// preference, one Google's and one of no known provider (a migration, or
// a gateway beside Google). The scheduler takes the partition's provider
// from MailServerHost, the engine the session's provider from the host it
// dials; both come from an mx lookup that shuffles equal preferences on
// every call (RFC 5321 load spreading), cached or not. So the scheduler
// routes the same domain's addresses half to Google's partitions and half
// to the numbered ones, and whichever it chose, the engine draws again:
// about half of the addresses run under another provider (budget, health,
// egress pins, partition) than the one the scheduler routed them by. The
// scheduler's answer for a domain must be one answer, and the engine must
// dial the host whose provider the task was routed for (or the scheduler
// must route by a key that does not depend on the draw).
func TestReviewMailServerHostIsStable(t *testing.T) {
	w := newEgressWorld(t, "")
	w.res.MX["mixed-route.com"] = []*net.MX{{Host: "gmail-smtp-in.l.google.com", Pref: 10}, {Host: "mx.plain-host.test", Pref: 10}}
	v := w.verifier()
	s := &Scheduler{Verifier: v}
	providers, servers := map[string]int{}, map[string]int{}
	for i := range 32 {
		addr := "jane" + string(rune('a'+i%26)) + "@mixed-route.com"
		server, host := v.MailServerHost(t.Context(), addr)
		servers[server]++
		providers[s.providers.forServer(server, providerOf(host))]++
	}
	if len(providers) != 1 || len(servers) != 1 {
		t.Errorf("32 addresses of one domain: the scheduler routed them by providers %v and servers %v; want one partition's provider and one server", providers, servers)
	}
}

// TestReviewMixedMXBlockedWorker: workers A (whose egress Google blocks)
// and B (healthy) run a job of domains whose two MX hosts share a
// preference: Google's, and one of no known provider that is down
// (connection refused). B can reach Google, so every address can get a
// right definite verdict. The scheduler's coin toss (see
// TestReviewMailServerHostIsStable) puts about half of them on the
// numbered partitions, keyed by the dead host. A worker there whose
// engine is refused by Google cannot move the task: the refusal names
// provider "google", which moveServer leaves alone (it moves only
// "server:" keys), and park hands providers over only on their own
// partitions.
func TestReviewMixedMXBlockedWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster")
	}
	ns := startNATS(t)
	w := newEgressWorld(t, "127.0.0.2")
	w.res.IP["mx.dead-host.test"] = []netip.Addr{netip.MustParseAddr("127.0.4.9")} // nothing listens
	var addrs []string
	for i := range 12 {
		d := "mixed" + string(rune('a'+i)) + "-route.com"
		w.res.MX[d] = []*net.MX{{Host: "gmail-smtp-in.l.google.com", Pref: 10}, {Host: "mx.dead-host.test", Pref: 10}}
		addrs = append(addrs, "jane@"+d, "nobody@"+d)
	}
	sched := startEgressNode(t, ns.ClientURL(), w.verifier(), false, 0)
	startEgressNode(t, ns.ClientURL(), w.verifier(egressA), true, time.Minute)
	startEgressNode(t, ns.ClientURL(), w.verifier(egressB), true, time.Minute)
	j, err := sched.bus.Submit(context.Background(), Spec{}, lines(addrs))
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, sched.bus, j.ID, 120*time.Second)
	checkVerdicts(t, sched.bus, j.ID, addrs, func(string) bool { return true })
	if n := w.seen(w.rcpts, "google 127.0.0.2"); n != 0 {
		t.Errorf("Google answered %d RCPTs from A's egress; want none (it is blocked at MAIL)", n)
	}
	t.Logf("MAIL from A's egress at Google: %d", w.seen(w.mails, "google 127.0.0.2"))
}

// takesConflict is the cluster's egress store where every write that
// spends commands loses its compare-and-set (a Take under contention
// that never wins within its tries); holds are written normally.
type takesConflict struct{ *EgressStore }

func (s takesConflict) PutBudget(k egress.Key, sp egress.Spending, rev uint64) (uint64, error) {
	old, _, err := s.EgressStore.GetBudget(k)
	if err != nil {
		return 0, err
	}
	spent := func(x egress.Spending) (n int) {
		for _, sl := range x.Minute {
			n += sl.N
		}
		return n
	}
	if spent(sp) > spent(old) {
		return 0, egress.ErrConflict
	}
	return s.EgressStore.PutBudget(k, sp, rev)
}

// TestReviewTakeConflictVerdict: what an address ends as when its
// flush's Take gives up after storeTries conflicts (see egress's
// TestReviewContentionGivesErrors: it happens with 12 flushers and a
// 1 ms KV). The brief: unknown/rate_limited with a retry_after, within
// the address's Timeout, no RCPT sent.
func TestReviewTakeConflictVerdict(t *testing.T) {
	// Each session's Take backs off up to 600 ms: 8 s is room under -race
	// and load.
	addr, r, took := lone(t, 8*time.Second, func(s *EgressStore) egress.Store { return takesConflict{s} })
	rateLimitedBy(t, "with every Take losing its compare-and-set", addr, r, took, 12*time.Second)
}

// killable is the cluster's egress store of a process that can be
// killed: from then on its calls fail (it renews nothing).
type killable struct {
	*EgressStore
	dead atomic.Bool
}

func (s *killable) GetBudget(k egress.Key) (egress.Spending, uint64, error) {
	if s.dead.Load() {
		return egress.Spending{}, 0, errBudgetsDown
	}
	return s.EgressStore.GetBudget(k)
}

func (s *killable) PutBudget(k egress.Key, sp egress.Spending, rev uint64) (uint64, error) {
	if s.dead.Load() {
		return 0, errBudgetsDown
	}
	return s.EgressStore.PutBudget(k, sp, rev)
}

// TestReviewKilledHolderBlocksThenUnknown: a process holding the shared
// egress's only Google session is killed with 12 s left on its hold.
// Worker C (same egress, address Timeout 5 s, greylist budget 1 min)
// gets a job of Google's: the session frees within the hold's 12 s, well
// inside the task's budget, so each address should end right. On
// 02b1e27 the router's refusal for a spent session count has no Until,
// so the engine ends the address at its Timeout unknown/rate_limited
// with retry_after 0, and park stores such a result at once (it waits
// only for a retry_after): a killed worker's lease ends C's addresses
// instead of delaying them. Until the verify engine filed a failed open
// under the lock it took the batch with, it also failed under load: the
// wait for the lease ended at the batch's deadline, take gave the jobs
// that deadline (already past), and the deadline timer could end them
// unknown/timeout before the lease's refusal (with its Until) was filed.
func TestReviewKilledHolderBlocksThenUnknown(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster")
	}
	ns := startNATS(t)
	w := newEgressWorld(t, "")
	g := w.domains("g", "gmail-smtp-in.l.google.com", 2)
	p := budgetProfiles(t, `{"profiles": [
	 {"provider": "default", "per_minute": 1000, "sessions": 4, "sources": {"per_minute": "test", "sessions": "test"}},
	 {"provider": "google", "per_minute": 1000, "sessions": 1, "sources": {"per_minute": "test", "sessions": "test"}}]}`)
	sched := startEgressNode(t, ns.ClientURL(), w.verifier(), false, 0)
	store, err := sched.bus.NewEgressStore(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ghost := &killable{EgressStore: store}
	gb := &egress.Budgets{Profiles: p, Store: ghost, SessionTTL: 12 * time.Second}
	if _, err := gb.Acquire(egress.Key{Egress: sharedEgress.ID(), Provider: "google"}); err != nil {
		t.Fatal(err)
	}
	ghost.dead.Store(true) // killed holding it
	killed := time.Now()
	v := w.verifier(sharedEgress)
	v.Profiles, v.Timeout = p, 5*time.Second
	startEgressNode(t, ns.ClientURL(), v, true, time.Minute)
	j, err := sched.bus.Submit(context.Background(), Spec{}, lines(g))
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, sched.bus, j.ID, 90*time.Second)
	got := allResults(t, sched.bus, j.ID, 50)
	for i, a := range g {
		r := got[i]
		right := strings.HasPrefix(a, "jane@") && r.Status == verify.Deliverable || strings.HasPrefix(a, "nobody@") && r.Status == verify.Undeliverable
		if !right {
			t.Errorf("%s: %s/%s retry_after %v (%s), ended %v after the holder was killed; want the right verdict once its 12 s hold lapsed",
				a, r.Status, r.Reason, time.Duration(r.RetryAfter), r.Error, time.Since(killed).Round(time.Second))
		}
	}
}

// TestBudgetKVServerClock: the cluster's budget store is a ClockedStore,
// so a worker whose clock is 25 s ahead writes its spending in the NATS
// server's time: the slot of its Take is now's slot by the server's
// clock (here the test's), not 25 s later (rev-budget F8).
func TestBudgetKVServerClock(t *testing.T) {
	b := openBus(t, Config{})
	defer b.Close()
	store, err := b.NewEgressStore(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := any(store).(egress.ClockedStore); !ok {
		t.Fatal("the cluster's budget store keeps no clock")
	}
	p := budgetProfiles(t, `{"profiles": [{"provider": "default", "per_minute": 100, "sources": {"per_minute": "test"}}]}`)
	ahead := &egress.Budgets{Profiles: p, Store: store, Now: func() time.Time { return time.Now().Add(25 * time.Second) }}
	k := egress.Key{Egress: "skewed", Provider: "google"}
	if err := ahead.Take(k, 1); err != nil {
		t.Fatal(err)
	}
	sp, _, err := store.GetBudget(k)
	if err != nil || len(sp.Minute) != 1 {
		t.Fatalf("stored %+v, %v; want one minute slot", sp, err)
	}
	slot := time.Minute / 20
	if at := time.Unix(0, sp.Minute[0].At*int64(slot)); time.Since(at) < -slot || time.Since(at) > 2*slot {
		t.Errorf("the Take of a worker 25 s ahead is in the slot of %v, %v from now; want now's (the server's clock)", at, -time.Since(at).Round(time.Second))
	}
}
