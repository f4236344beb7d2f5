package jobs

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/mx/mxtest"
	"github.com/mailverify/mailverify/verify"
)

// startNATS starts one JetStream server on a loopback port.
func startNATS(t testing.TB) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{ServerName: "egress", Host: "127.0.0.1", Port: -1,
		JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(30 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	return s
}

// egressWorld is mail servers on real loopback listeners, one port for
// all, that tell their clients apart by source address: Google's
// (gmail-smtp-in.l.google.com, so that mx.ProviderOf names it) refuses
// MAIL FROM from the banned source with a blocklist text; a server of no
// known provider serves everyone. Each domain knows jane@ and bob@.
type egressWorld struct {
	res    *mxtest.Resolver
	port   int
	banned string // a source address Google's server blocks
	banAt  string // the server that blocks it: "google" unless set (setBanAt)

	mu    sync.Mutex
	mails map[string]int // MAIL commands per (server, source): "google 127.0.0.2"
	rcpts map[string]int // RCPTs given a mailbox answer, likewise
}

func newEgressWorld(t testing.TB, banned string) *egressWorld {
	t.Helper()
	w := &egressWorld{res: &mxtest.Resolver{MX: map[string][]*net.MX{}, IP: map[string][]netip.Addr{}},
		banned: banned, mails: map[string]int{}, rcpts: map[string]int{}}
	for i, s := range []struct{ name, host, ip string }{
		{"google", "gmail-smtp-in.l.google.com", "127.0.4.1"},
		{"plain", "mx.plain-host.test", "127.0.4.2"},
	} {
		l, err := net.Listen("tcp", net.JoinHostPort(s.ip, fmt.Sprint(w.port)))
		if err != nil {
			t.Skipf("no loopback listener on %s: %v", s.ip, err)
		}
		if i == 0 {
			w.port = l.Addr().(*net.TCPAddr).Port
		}
		srv := w.server(s.name)
		srv.Serve(l)
		t.Cleanup(srv.Close)
		w.res.IP[s.host] = []netip.Addr{netip.MustParseAddr(s.ip)}
	}
	return w
}

func (w *egressWorld) server(name string) *testsmtp.Server {
	count := func(m map[string]int, c *testsmtp.Conn) string {
		src, _, _ := net.SplitHostPort(c.Peer)
		w.mu.Lock()
		m[name+" "+src]++
		w.mu.Unlock()
		return src
	}
	return &testsmtp.Server{Handlers: map[string]testsmtp.Handler{
		"MAIL": func(c *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
			if src := count(w.mails, c); name == w.banServer() && src == w.banned {
				return testsmtp.R(550, "5.7.1", "Service unavailable; Client host ["+src+"] blocked using zen.spamhaus.org")
			}
			return testsmtp.R(250, "2.1.0", "Ok")
		},
		"RCPT": func(c *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
			if !c.HaveMail { // pipelined behind a refused MAIL
				return testsmtp.R(503, "5.5.1", "Error: need MAIL command")
			}
			if src, _, _ := net.SplitHostPort(c.Peer); name == w.banServer() && src == w.banned {
				// banned within a transaction begun before
				return testsmtp.R(554, "5.7.1", "Service unavailable; Client host ["+src+"] blocked using zen.spamhaus.org")
			}
			count(w.rcpts, c) // a mailbox answer
			addr := strings.ToLower(strings.Trim(strings.TrimPrefix(cmd.Arg, "TO:"), "<>"))
			if local, _, _ := strings.Cut(addr, "@"); local == "jane" || local == "bob" || local == "postmaster" { // RFC 5321, 4.5.1
				return testsmtp.R(250, "2.1.5", "Ok")
			}
			return testsmtp.R(550, "5.1.1", "<"+addr+">: Recipient address rejected: User unknown")
		},
	}}
}

func (w *egressWorld) banServer() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.banAt == "" {
		return "google"
	}
	return w.banAt
}

func (w *egressWorld) setBanAt(name string) {
	w.mu.Lock()
	w.banAt = name
	w.mu.Unlock()
}

func (w *egressWorld) seen(m map[string]int, key string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return m[key]
}

// domains routes n domains of a server's and returns an existing and a
// missing address of each.
func (w *egressWorld) domains(prefix, host string, n int) []string {
	var out []string
	for i := range n {
		d := fmt.Sprintf("%s%d-route.com", prefix, i)
		w.res.MX[d] = []*net.MX{{Host: host, Pref: 10}}
		out = append(out, "jane@"+d, "nobody@"+d)
	}
	return out
}

func (w *egressWorld) verifier(es ...egress.Egress) *verify.Verifier {
	p, err := egress.ParseProfiles(strings.NewReader(`{"about": "test", "profiles": [{"provider": "default",
	 "per_minute": 1000, "per_hour": 10000, "per_day": 100000, "sessions": 4,
	 "sources": {"per_minute": "test", "per_hour": "test", "per_day": "test", "sessions": "test"}}]}`))
	if err != nil {
		panic(err)
	}
	return &verify.Verifier{Resolver: w.res, AllowPrivate: true, HELO: "verifier.example.net", Port: w.port,
		ResolverCanary: "-", GreylistMaxWait: time.Nanosecond, CommandTimeout: 5 * time.Second,
		Timeout: 20 * time.Second, Egresses: es, Profiles: p}
}

// egressNode is one process of the test's cluster: the scheduler and the
// aggregator, or a worker, on a connection of its own.
type egressNode struct {
	bus     *Bus
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	results []verify.Result
}

func (n *egressNode) stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	<-n.done
	n.bus.Close()
	n.cancel = nil
}

func (n *egressNode) count(f func(verify.Result) bool) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, r := range n.results {
		if f(r) {
			c++
		}
	}
	return c
}

var testBus = Config{Partitions: 2, PinnedTTL: 2 * time.Second, AckWait: 10 * time.Second}

// startEgressNode runs a scheduler (with v and worker nil) or a worker
// with the verifier v, sharing the cluster's egress health.
func startEgressNode(t *testing.T, url string, v *verify.Verifier, worker bool, budget time.Duration) *egressNode {
	t.Helper()
	cfg := testBus
	cfg.URL = url
	return startNodeOn(t, cfg, v, worker, budget)
}

// startNodeOn is startEgressNode with the bus's configuration.
func startNodeOn(t *testing.T, cfg Config, v *verify.Verifier, worker bool, budget time.Duration) *egressNode {
	t.Helper()
	n := &egressNode{bus: openBus(t, cfg), done: make(chan struct{})}
	store, err := n.bus.NewEgressStore(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	v.EgressStore = store
	node := &Node{Bus: n.bus, Verifier: v}
	if worker {
		node = &Node{Bus: n.bus, WorkerVerifier: v, Worker: Worker{Drain: time.Second, GreylistBudget: budget,
			OnResult: func(r verify.Result) {
				n.mu.Lock()
				n.results = append(n.results, r)
				n.mu.Unlock()
			}}}
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() {
		defer close(n.done)
		if err := node.Run(ctx); err != nil && ctx.Err() == nil {
			t.Errorf("node: %v", err)
		}
	}()
	t.Cleanup(n.stop)
	return n
}

// waitFor polls cond until it holds, failing after within.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
	}
}

// checkVerdicts fails unless each address has exactly one result, jane@
// deliverable and nobody@ undeliverable where definite is set, and
// never a definite verdict otherwise.
func checkVerdicts(t *testing.T, b *Bus, id string, addrs []string, definite func(addr string) bool) map[int]verify.Result {
	t.Helper()
	got := allResults(t, b, id, 50)
	if len(got) != len(addrs) {
		t.Fatalf("%d results for %d addresses", len(got), len(addrs))
	}
	for i, a := range addrs {
		r, ok := got[i]
		switch {
		case !ok:
			t.Errorf("%s: no result", a)
		case definite(a) && strings.HasPrefix(a, "jane@") && r.Status != verify.Deliverable,
			definite(a) && strings.HasPrefix(a, "nobody@") && r.Status != verify.Undeliverable:
			t.Errorf("%s: %s/%s (%s); want a right definite verdict", a, r.Status, r.Reason, r.Error)
		case !definite(a) && (r.Status != verify.Unknown || (r.Reason != verify.ReasonBlocked && r.Reason != verify.ReasonRateLimited) || r.RetryAfter <= 0):
			t.Errorf("%s: %s/%s retry_after %v; want unknown/blocked or rate_limited with retry_after", a, r.Status, r.Reason, time.Duration(r.RetryAfter))
		}
	}
	return got
}

func isGoogle(a string) bool { return strings.Contains(a, "@g") }

var (
	egressA = egress.Egress{Name: "ea", Source: netip.MustParseAddr("127.0.0.2")}
	egressB = egress.Egress{Name: "eb", Source: netip.MustParseAddr("127.0.0.3")}
)

// TestBlockedWorkerLeavesProvider runs a scheduler and two workers on one
// NATS server, each worker with its own egress; Google's server blocks
// worker A's. A alone first: it draws the block, and with no worker
// able to reach Google its addresses wait. Then B starts: A leaves
// Google's partitions to B, the waiting addresses go to B, and every
// address ends exactly once with the right verdict, none definite
// through A's egress. Then A restarts: the back-off stands (the cluster
// keeps it), so A' takes no Google work and sends no MAIL to Google.
func TestBlockedWorkerLeavesProvider(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster")
	}
	ns := startNATS(t)
	w := newEgressWorld(t, "127.0.0.2")
	g, p := w.domains("g", "gmail-smtp-in.l.google.com", 10), w.domains("p", "mx.plain-host.test", 10)
	addrs := append(slices.Clone(g[:12]), p[:12]...)
	addrs2 := append(slices.Clone(g[12:]), p[12:]...) // after the restart
	sched := startEgressNode(t, ns.ClientURL(), w.verifier(), false, 0)
	a := startEgressNode(t, ns.ClientURL(), w.verifier(egressA), true, time.Minute)

	j, err := sched.bus.Submit(context.Background(), Spec{}, lines(addrs))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "A blocked by Google", 30*time.Second, func() bool { return w.seen(w.mails, "google 127.0.0.2") > 0 })
	// No worker can reach Google: its addresses wait (within a minute),
	// the others are done.
	jobAt(t, sched.bus, j.ID, len(addrs)/2, 30*time.Second)
	time.Sleep(time.Second)
	if j, err := sched.bus.Get(context.Background(), "", j.ID); err != nil || j.Done != len(addrs)/2 {
		t.Fatalf("job %+v, %v; want only the %d plain addresses done while no worker can reach Google", j, err, len(addrs)/2)
	}

	b := startEgressNode(t, ns.ClientURL(), w.verifier(egressB), true, time.Minute)
	waitDone(t, sched.bus, j.ID, 60*time.Second)
	checkVerdicts(t, sched.bus, j.ID, addrs, func(string) bool { return true })
	if n := w.seen(w.rcpts, "google 127.0.0.2"); n != 0 {
		t.Errorf("Google answered %d RCPTs from A's egress; want none (it is blocked at MAIL)", n)
	}
	if n := b.count(func(r verify.Result) bool { return r.Provider == "google" }); n != 12 {
		t.Errorf("B stored %d of Google's 12 results; want all", n)
	}
	if n := a.count(func(r verify.Result) bool { return r.Provider == "google" }); n != 0 {
		t.Errorf("A stored %d of Google's results; want none", n)
	}
	ws, err := sched.bus.Workers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !avoids(ws, "ea", "google") || avoids(ws, "eb", "google") {
		t.Errorf("declarations %+v; want A (ea) avoiding google, B (eb) not", ws)
	}

	// A restarts: a new connection and verifier; the back-off is the
	// cluster's.
	a.stop()
	mails := w.seen(w.mails, "google 127.0.0.2")
	a2 := startEgressNode(t, ns.ClientURL(), w.verifier(egressA), true, time.Minute)
	j2, err := sched.bus.Submit(context.Background(), Spec{}, lines(addrs2))
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, sched.bus, j2.ID, 60*time.Second)
	checkVerdicts(t, sched.bus, j2.ID, addrs2, func(string) bool { return true })
	if n := w.seen(w.mails, "google 127.0.0.2"); n != mails {
		t.Errorf("after the restart A's egress sent %d MAIL to Google; want none", n-mails)
	}
	if n := a2.count(func(r verify.Result) bool { return r.Provider == "google" }); n != 0 {
		t.Errorf("A' stored %d of Google's results; want none", n)
	}
}

func avoids(ws []Declaration, egressID, provider string) bool {
	for _, w := range ws {
		if slices.ContainsFunc(w.Egresses, func(e DeclaredEgress) bool { return e.ID == egressID }) {
			return slices.ContainsFunc(w.Avoids, func(a Avoided) bool { return a.Provider == provider })
		}
	}
	return false
}

// TestNoHealthyEgressWaitsThenUnknown: the only worker's egress is
// blocked by Google. Google's addresses wait out their budget, then end
// unknown/blocked with retry_after, each exactly once; the others are
// verified.
func TestNoHealthyEgressWaitsThenUnknown(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster")
	}
	ns := startNATS(t)
	w := newEgressWorld(t, "127.0.0.2")
	addrs := append(w.domains("g", "gmail-smtp-in.l.google.com", 4), w.domains("p", "mx.plain-host.test", 4)...)
	sched := startEgressNode(t, ns.ClientURL(), w.verifier(), false, 0)
	startEgressNode(t, ns.ClientURL(), w.verifier(egressA), true, 4*time.Second)
	start := time.Now()
	j, err := sched.bus.Submit(context.Background(), Spec{}, lines(addrs))
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, sched.bus, j.ID, 60*time.Second)
	if took := time.Since(start); took < 4*time.Second {
		t.Errorf("the job ended after %v; want Google's addresses to wait out their 4 s budget", took)
	}
	checkVerdicts(t, sched.bus, j.ID, addrs, func(a string) bool { return !isGoogle(a) })
	if n := w.seen(w.rcpts, "google 127.0.0.2"); n != 0 {
		t.Errorf("Google answered %d RCPTs from the blocked egress; want none", n)
	}
}
