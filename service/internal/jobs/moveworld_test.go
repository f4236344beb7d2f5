package jobs

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/verify"
)

// A moveCase is the cluster of the tests where work moves off a worker
// whose egress a server blocks: the scheduler and worker A (egressA),
// after A did a first job at the server (which pins the server's
// partition on A); then the test makes the server block A and starts
// another worker.
type moveCase struct {
	cfg      Config
	sched, a *egressNode
}

// egressC is the third worker's egress of the cases where B goes away.
var egressC = egress.Egress{Name: "ec", Source: netip.MustParseAddr("127.0.0.4")}

// busOn is the test bus's configuration on the NATS server at url.
func busOn(url string) Config {
	cfg := testBus
	cfg.URL = url
	return cfg
}

// startMoveCase starts the scheduler and A on cfg, and runs first through
// A: every verdict right, every result A's.
func startMoveCase(t *testing.T, w *egressWorld, cfg Config, first []string) *moveCase {
	t.Helper()
	m := &moveCase{cfg: cfg}
	m.sched = startNodeOn(t, cfg, w.verifier(), false, 0)
	m.a = startNodeOn(t, cfg, w.verifier(egressA), true, time.Minute)
	id := m.run(t, first, 30*time.Second)
	checkVerdicts(t, m.sched.bus, id, first, func(string) bool { return true })
	if n := m.a.count(func(verify.Result) bool { return true }); n != len(first) {
		t.Fatalf("A stored %d of the first job's %d results", n, len(first))
	}
	return m
}

// worker starts a worker with v on the case's cluster and waits until n
// workers are declared.
func (m *moveCase) worker(t *testing.T, v *verify.Verifier, n int) *egressNode {
	t.Helper()
	node := startNodeOn(t, m.cfg, v, true, time.Minute)
	m.declared(t, n)
	return node
}

// declared waits until n workers are declared.
func (m *moveCase) declared(t *testing.T, n int) {
	t.Helper()
	waitFor(t, "workers declared", 10*time.Second, func() bool {
		ws, err := m.sched.bus.Workers(context.Background())
		return err == nil && len(ws) == n
	})
}

// submit sends addrs as a job and returns its ID.
func (m *moveCase) submit(t *testing.T, addrs []string) string {
	t.Helper()
	j, err := m.sched.bus.Submit(context.Background(), Spec{}, lines(addrs))
	if err != nil {
		t.Fatal(err)
	}
	return j.ID
}

// run submits addrs as a job and waits within for it to be done.
func (m *moveCase) run(t *testing.T, addrs []string, within time.Duration) string {
	t.Helper()
	id := m.submit(t, addrs)
	waitDone(t, m.sched.bus, id, within)
	return id
}
