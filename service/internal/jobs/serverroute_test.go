package jobs

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/verify"
)

// TestBlockedServerMovesToHealthyWorker: a mail server of no known
// provider blocks worker A's egress. A holds the numbered partition of
// that server (a first job, before the block, pinned it there); B, with
// another egress, starts afterwards. The server's addresses are not
// ended unknown/blocked by A: they move to the server's own partition,
// which B takes, and each ends exactly once with the right verdict, none
// through A's egress.
func TestBlockedServerMovesToHealthyWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster")
	}
	ns := startNATS(t)
	w := newEgressWorld(t, "127.0.0.2")
	w.setBanAt("none") // no block yet
	p := w.domains("p", "mx.plain-host.test", 8)
	m := startMoveCase(t, w, busOn(ns.ClientURL()), p[:4])
	sched := m.sched

	w.setBanAt("plain")
	b := m.worker(t, w.verifier(egressB), 2)
	rcpts := w.seen(w.rcpts, "plain 127.0.0.2")
	addrs := p[4:]
	id := m.run(t, addrs, 60*time.Second)
	got := checkVerdicts(t, sched.bus, id, addrs, func(string) bool { return true })
	if w.seen(w.mails, "plain 127.0.0.2") == 0 {
		t.Error("A's egress never met the block; the test tells nothing")
	}
	if n := w.seen(w.rcpts, "plain 127.0.0.2") - rcpts; n != 0 {
		t.Errorf("the server answered %d RCPTs from A's blocked egress; want none", n)
	}
	if n := b.count(func(r verify.Result) bool { return strings.Contains(r.Address, "-route.com") }); n != len(addrs) {
		t.Errorf("B stored %d of the %d results; want all (results %v)", n, len(addrs), got)
	}

	// The server lets A in again and its back-off is over: its tasks
	// still go to its own partition, which B holds, so A does not talk
	// to it beside B (one worker per server, for politeness).
	w.setBanAt("none")
	store, err := sched.bus.NewEgressStore(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	es, err := store.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Key.Egress == "ea" {
			_, rev, _ := store.Get(e.Key)
			if _, err := store.Put(e.Key, egress.Record{State: egress.StateHealthy}, rev); err != nil {
				t.Fatal(err)
			}
		}
	}
	mails := w.seen(w.mails, "plain 127.0.0.2")
	q := w.domains("q", "mx.plain-host.test", 4)
	checkVerdicts(t, sched.bus, m.run(t, q, 60*time.Second), q, func(string) bool { return true })
	if n := w.seen(w.mails, "plain 127.0.0.2") - mails; n != 0 {
		t.Errorf("A sent the server %d MAIL while B holds its partition; want none", n)
	}
}

// TestMovedTaskWaitsLittle: a task sent on to another worker waits about
// two seconds, not the consumer's PinnedTTL (10 s here) and one: the
// worker that sends it on unpins the partition as it leaves it. A holds
// Google's partition (a first job pinned it there) when Google starts
// to block A's egress and B, with a healthy one, is running.
func TestMovedTaskWaitsLittle(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster")
	}
	ns := startNATS(t)
	w := newEgressWorld(t, "127.0.0.2")
	w.setBanAt("none")
	g := w.domains("g", "gmail-smtp-in.l.google.com", 6)
	cfg := busOn(ns.ClientURL())
	cfg.PinnedTTL = 10 * time.Second
	m := startMoveCase(t, w, cfg, g[:4])
	w.setBanAt("google")
	b := m.worker(t, w.verifier(egressB), 2)
	start := time.Now()
	id := m.run(t, g[4:], 60*time.Second)
	took := time.Since(start)
	checkVerdicts(t, m.sched.bus, id, g[4:], func(string) bool { return true })
	if w.seen(w.mails, "google 127.0.0.2") == 0 {
		t.Error("A's egress never met the block; the test tells nothing")
	}
	if n := b.count(func(verify.Result) bool { return true }); n != len(g[4:]) {
		t.Errorf("B stored %d of %d results", n, len(g[4:]))
	}
	if took > 10*time.Second { // the old wait alone was 11 s
		t.Errorf("the job took %v; a task sent on should wait about 2 s, not PinnedTTL (10 s) and one", took)
	}
	t.Logf("the job took %v", took)
}
