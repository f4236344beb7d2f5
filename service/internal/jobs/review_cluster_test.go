package jobs

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/verify"
)

// Adversarial review (branch rev-budget): the server partitions and shared
// egresses across workers (green checks; see review_budget_test.go).

// softServer listens on 127.0.4.3 at w's port as mx.soft-host.test, a
// server of no known provider: it blocks A's source (127.0.0.2) once
// banA is set, and accepts every recipient from B's (127.0.0.3), as a
// server does to a source it has soft-limited (accept-all to hide its
// mailboxes); to anyone else it knows jane@ and bob@ only. It counts
// the RCPTs each source had answered.
func softServer(t *testing.T, w *egressWorld, banA *atomic.Bool, rcpts map[string]*atomic.Int64) {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.4.3", fmt.Sprint(w.port)))
	if err != nil {
		t.Skipf("no loopback listener: %v", err)
	}
	src := func(c *testsmtp.Conn) string { s, _, _ := net.SplitHostPort(c.Peer); return s }
	srv := &testsmtp.Server{Handlers: map[string]testsmtp.Handler{
		"MAIL": func(c *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
			if src(c) == "127.0.0.2" && banA.Load() {
				return testsmtp.R(550, "5.7.1", "Service unavailable; Client host [127.0.0.2] blocked using zen.spamhaus.org")
			}
			return testsmtp.R(250, "2.1.0", "Ok")
		},
		"RCPT": func(c *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
			if !c.HaveMail {
				return testsmtp.R(503, "5.5.1", "Error: need MAIL command")
			}
			s := src(c)
			if s == "127.0.0.2" && banA.Load() {
				return testsmtp.R(554, "5.7.1", "Service unavailable; Client host [127.0.0.2] blocked using zen.spamhaus.org")
			}
			if n := rcpts[s]; n != nil {
				n.Add(1)
			}
			addr := strings.ToLower(strings.Trim(strings.TrimPrefix(cmd.Arg, "TO:"), "<>"))
			local, _, _ := strings.Cut(addr, "@")
			if s == "127.0.0.3" || local == "jane" || local == "bob" || local == "postmaster" { // RFC 5321, 4.5.1
				return testsmtp.R(250, "2.1.5", "Ok")
			}
			return testsmtp.R(550, "5.1.1", "<"+addr+">: Recipient address rejected: User unknown")
		},
	}}
	srv.Serve(l)
	t.Cleanup(srv.Close)
	w.res.IP["mx.soft-host.test"] = []netip.Addr{netip.MustParseAddr("127.0.4.3")}
}

// TestReviewMovedServerEvidence: worker A verifies a job at a server of
// no known provider and learns (and shares with the cluster) that its
// domains refuse unknown recipients. Then the server blocks A's egress
// and accepts everyone from B's: the next job's tasks move to the
// server's own partition, which B takes. No acceptance B draws is
// evidence of a mailbox (its canaries are accepted too); a definite
// verdict there would be proven by A's evidence, from another egress's
// connections. Every address must end unknown, none deliverable or
// undeliverable from B.
func TestReviewMovedServerEvidence(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster")
	}
	ns := startNATS(t)
	w := newEgressWorld(t, "")
	var banA atomic.Bool
	rcpts := map[string]*atomic.Int64{"127.0.0.2": {}, "127.0.0.3": {}}
	softServer(t, w, &banA, rcpts)
	d := w.domains("soft", "mx.soft-host.test", 8)
	m := startMoveCase(t, w, busOn(ns.ClientURL()), d[:4])

	banA.Store(true)
	b := m.worker(t, w.verifier(egressB), 2)
	addrs := d[4:]
	got := allResults(t, m.sched.bus, m.run(t, addrs, 90*time.Second), 50)
	if len(got) != len(addrs) {
		t.Fatalf("%d results for %d addresses", len(got), len(addrs))
	}
	for i, a := range addrs {
		if r := got[i]; r.Status == verify.Deliverable || r.Status == verify.Undeliverable {
			t.Errorf("%s: %s/%s with A's egress blocked and B's accepting everyone; want unknown (no evidence on B's connection)", a, r.Status, r.Reason)
		}
	}
	t.Logf("RCPTs answered: A %d, B %d; B stored %d", rcpts["127.0.0.2"].Load(), rcpts["127.0.0.3"].Load(),
		b.count(func(r verify.Result) bool { return strings.Contains(r.Address, "soft") }))
	if rcpts["127.0.0.3"].Load() == 0 {
		t.Error("B's egress asked the server nothing: the move did not happen, the test tells nothing")
	}
}

// concurrent counts the connections open at once per source address,
// over every listener it wraps. With linger, the server lets each
// connection go that long after it ends it (a loaded server's lag).
type concurrent struct {
	mu     sync.Mutex
	open   map[string]int
	max    map[string]int
	linger time.Duration
}

type countedListener struct {
	net.Listener
	c *concurrent
}

type countedConn struct {
	net.Conn
	c    *concurrent
	src  string
	once sync.Once
}

func (l countedListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nc, err
	}
	src, _, _ := net.SplitHostPort(nc.RemoteAddr().String())
	l.c.mu.Lock()
	l.c.open[src]++
	l.c.max[src] = max(l.c.max[src], l.c.open[src])
	l.c.mu.Unlock()
	return &countedConn{Conn: nc, c: l.c, src: src}, nil
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		time.Sleep(c.c.linger)
		c.c.mu.Lock()
		c.c.open[c.src]--
		c.c.mu.Unlock()
	})
	return c.Conn.Close()
}

// threeGoogleServers adds three Google servers (alt1..alt3.gmail-smtp-in,
// each its own partition) to w, counted by cc, with 6 domains each.
func threeGoogleServers(t *testing.T, w *egressWorld) (*concurrent, []string) {
	cc := &concurrent{open: map[string]int{}, max: map[string]int{}}
	var addrs []string
	for i, ip := range []string{"127.0.4.5", "127.0.4.6", "127.0.4.7"} {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, fmt.Sprint(w.port)))
		if err != nil {
			t.Skipf("no loopback listener: %v", err)
		}
		srv := w.server("google")
		srv.Serve(countedListener{Listener: l, c: cc})
		t.Cleanup(srv.Close)
		host := fmt.Sprintf("alt%d.gmail-smtp-in.l.google.com", i+1)
		w.res.IP[host] = []netip.Addr{netip.MustParseAddr(ip)}
		addrs = append(addrs, w.domains(fmt.Sprintf("alt%d-", i+1), host, 6)...)
	}
	return cc, addrs
}

// TestReviewSharedEgressHourAtServers: three workers at once (not one
// after the other) declare one egress whose Google budget is 10 RCPTs an
// hour, and work on three of Google's servers in parallel partitions,
// so that their Takes contend. The servers count the RCPTs from the
// egress: at most 10 in all; every address ends once, right or
// unknown/rate_limited with retry_after.
func TestReviewSharedEgressHourAtServers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster")
	}
	ns := startNATS(t)
	w := newEgressWorld(t, "")
	_, addrs := threeGoogleServers(t, w)
	cfg := testBus
	cfg.URL = ns.ClientURL()
	sched := startNodeOn(t, cfg, w.verifier(), false, 0)
	for range 3 {
		startNodeOn(t, cfg, budgetVerifier(t, w, sharedEgress), true, 2*time.Second)
	}
	j, err := sched.bus.Submit(context.Background(), Spec{}, lines(addrs))
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, sched.bus, j.ID, 120*time.Second)
	limited := checkWithinBudget(t, sched.bus, j.ID, addrs)
	if n := w.seen(w.rcpts, "google 127.0.0.2"); n > 10 || n == 0 {
		t.Errorf("Google's servers answered %d RCPTs from the shared egress; its budget is 10 an hour (want 1-10)", n)
	}
	if limited == 0 {
		t.Error("no address rate limited; 36 addresses need more than 10 RCPTs")
	}
	t.Logf("%d RCPTs from the shared egress, %d addresses rate limited", w.seen(w.rcpts, "google 127.0.0.2"), limited)
}

// TestReviewServerPartitionWorkerRestart: a server of no known provider
// blocks worker A's egress; its work moves to the server's own
// partition, which B takes. B stops in the middle of the job and C (a
// third egress) starts: every address still ends exactly once with the
// right verdict, none through A's egress.
func TestReviewServerPartitionWorkerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster")
	}
	ns := startNATS(t)
	w := newEgressWorld(t, "127.0.0.2")
	w.setBanAt("none")
	p := w.domains("p", "mx.plain-host.test", 44)
	m := startMoveCase(t, w, busOn(ns.ClientURL()), p[:8])

	w.setBanAt("plain")
	b := m.worker(t, w.verifier(egressB), 2)
	rcpts := w.seen(w.rcpts, "plain 127.0.0.2")
	addrs := p[8:]
	id := m.submit(t, addrs)
	waitFor(t, "B's first results", 30*time.Second, func() bool { return b.count(func(verify.Result) bool { return true }) >= 6 })
	b.stop()
	startNodeOn(t, m.cfg, w.verifier(egressC), true, time.Minute)
	waitDone(t, m.sched.bus, id, 90*time.Second)
	checkVerdicts(t, m.sched.bus, id, addrs, func(string) bool { return true })
	if n := w.seen(w.rcpts, "plain 127.0.0.2") - rcpts; n != 0 {
		t.Errorf("the server answered %d RCPTs from A's blocked egress; want none", n)
	}
	t.Logf("B stored %d, C's source had %d RCPTs answered", b.count(func(verify.Result) bool { return true }), w.seen(w.rcpts, "plain 127.0.0.4"))
}
