package jobs

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailverify/mailverify/verify"
)

// TestReviewVanityNameFirstRoutesGoogleAsPlain: a domain whose MX is a
// name of its own (mx.own-name.test) for Google's server address comes
// first; the scheduler's forServer then keeps that server on the
// numbered partitions for 10 minutes, so Google's own domains go there
// too, and their engine names the provider "google". Worker A's egress
// is blocked at that server, B's is healthy: every address should still
// end right. It holds (green on 02b1e27): the first job's block moved
// the server to its own partition (server:ADDR), and followServer sends
// Google's later tasks there by their scheduler's server. Compare
// TestReviewMixedMXBlockedWorker, where the scheduler's server is one
// that never refused an egress, so no partition is followed.
func TestReviewVanityNameFirstRoutesGoogleAsPlain(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster")
	}
	ns := startNATS(t)
	w := newEgressWorld(t, "127.0.0.2")
	w.res.IP["mx.own-name.test"] = w.res.IP["gmail-smtp-in.l.google.com"]
	own := w.domains("own", "mx.own-name.test", 1)
	g := w.domains("g", "gmail-smtp-in.l.google.com", 8)
	sched := startEgressNode(t, ns.ClientURL(), w.verifier(), false, 0)
	startEgressNode(t, ns.ClientURL(), w.verifier(egressA), true, time.Minute)
	startEgressNode(t, ns.ClientURL(), w.verifier(egressB), true, time.Minute)
	j0, err := sched.bus.Submit(context.Background(), Spec{}, lines(own))
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, sched.bus, j0.ID, 60*time.Second)
	j, err := sched.bus.Submit(context.Background(), Spec{}, lines(g))
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, sched.bus, j.ID, 90*time.Second)
	checkVerdicts(t, sched.bus, j.ID, g, func(string) bool { return true })
}

// crashableWorker runs a worker whose NATS connection can be cut at once
// (crash): no drain, no Nak of the tasks it holds, no release of its
// budget holds.
func crashableWorker(t *testing.T, url string, v *verify.Verifier, stored *atomic.Int64) (crash func()) {
	t.Helper()
	cfg := testBus
	cfg.URL = url
	b := openBus(t, cfg)
	store, err := b.NewEgressStore(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	v.EgressStore = store
	node := &Node{Bus: b, WorkerVerifier: v, Worker: Worker{Drain: time.Second, GreylistBudget: time.Minute,
		OnResult: func(verify.Result) { stored.Add(1) }}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = node.Run(ctx) // its errors after the crash are the crash's
	}()
	var once sync.Once
	crash = func() {
		once.Do(func() {
			b.NC.Close()
			cancel()
			<-done
		})
	}
	t.Cleanup(crash)
	return crash
}

// TestReviewServerPartitionWorkerCrash: as
// TestReviewServerPartitionWorkerRestart, but B, which holds the server's
// own partition, crashes (its connection cut, nothing handed back) in
// the middle of the job: its tasks come back after AckWait to C, and
// every address ends exactly once, right, none through A's egress.
func TestReviewServerPartitionWorkerCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster")
	}
	ns := startNATS(t)
	w := newEgressWorld(t, "127.0.0.2")
	w.setBanAt("none")
	p := w.domains("p", "mx.plain-host.test", 44)
	m := startMoveCase(t, w, busOn(ns.ClientURL()), p[:8])
	w.setBanAt("plain")
	var byB atomic.Int64
	crashB := crashableWorker(t, ns.ClientURL(), w.verifier(egressB), &byB)
	m.declared(t, 2)
	rcpts := w.seen(w.rcpts, "plain 127.0.0.2")
	addrs := p[8:]
	id := m.submit(t, addrs)
	waitFor(t, "B's first results", 30*time.Second, func() bool { return byB.Load() >= 6 })
	crashB()
	startNodeOn(t, m.cfg, w.verifier(egressC), true, time.Minute)
	waitDone(t, m.sched.bus, id, 120*time.Second)
	checkVerdicts(t, m.sched.bus, id, addrs, func(string) bool { return true })
	if n := w.seen(w.rcpts, "plain 127.0.0.2") - rcpts; n != 0 {
		t.Errorf("the server answered %d RCPTs from A's blocked egress; want none", n)
	}
	t.Logf("B stored %d before its crash", byB.Load())
}
