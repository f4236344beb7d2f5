package verify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/mx/mxtest"
)

// sourceServer is a mail server on a real loopback listener that tells
// its clients apart by source address: it counts the RCPTs of each, and
// its behaviour may change for one source after some of them.
type sourceServer struct {
	srv   *testsmtp.Server
	mu    sync.Mutex
	rcpts map[string]int // per source address
}

func (s *sourceServer) count(c *testsmtp.Conn) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	src, _, _ := net.SplitHostPort(c.Peer)
	s.rcpts[src]++
	return s.rcpts[src]
}

func (s *sourceServer) seen(c *testsmtp.Conn) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	src, _, _ := net.SplitHostPort(c.Peer)
	return s.rcpts[src]
}

func (s *sourceServer) perSource() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, n := range s.rcpts {
		out[k] = n
	}
	return out
}

// A sourceRule is how a server treats a source address.
type sourceRule struct {
	// mail, when set, answers MAIL FROM for the source after it sent
	// after RCPTs (a ban) or at once (after 0).
	mail  *testsmtp.Reply
	after int
	// rcpt, when set, answers each RCPT past after for the source (a
	// throttle, or 250 to everyone: a soft limit).
	rcpt *testsmtp.Reply
}

// egressWorld is one domain on one server listening on a loopback
// address, reached from the egresses 127.0.0.2, 127.0.0.3, ...
type egressWorld struct {
	res    *mxtest.Resolver
	port   int
	server *sourceServer
	known  map[string]bool
	addrs  []string
}

func newEgressWorld(t *testing.T, bad string, rule sourceRule) *egressWorld {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.3.1:0")
	if err != nil {
		t.Skipf("no loopback listener: %v", err)
	}
	w := &egressWorld{res: &mxtest.Resolver{MX: map[string][]*net.MX{}, IP: map[string][]netip.Addr{}},
		port: l.Addr().(*net.TCPAddr).Port, known: map[string]bool{}}
	ss := &sourceServer{rcpts: map[string]int{}}
	for i := range 12 {
		a := fmt.Sprintf("user%02d@pool-mail.com", i)
		w.known[a] = i%2 == 0
		w.addrs = append(w.addrs, a)
	}
	isBad := func(c *testsmtp.Conn) bool { return strings.HasPrefix(c.Peer, bad+":") }
	ss.srv = &testsmtp.Server{Handlers: map[string]testsmtp.Handler{
		"MAIL": func(c *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
			if isBad(c) && rule.mail != nil && ss.seen(c) >= rule.after {
				return *rule.mail
			}
			return testsmtp.R(250, "2.1.0", "Ok")
		},
		"RCPT": func(c *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
			n := ss.count(c)
			if isBad(c) && rule.rcpt != nil && n > rule.after {
				return *rule.rcpt
			}
			addr := strings.ToLower(strings.Trim(strings.TrimPrefix(cmd.Arg, "TO:"), "<>"))
			// postmaster@ is accepted, as RFC 5321 asks: the work moved to
			// the healthy egress is asked again, so its acceptances are of
			// addresses accepted before and make no specific refusal count
			// (hostRun.record); postmaster@ is the control there.
			if w.known[addr] || strings.HasPrefix(addr, "postmaster@") {
				return testsmtp.R(250, "2.1.5", "Ok")
			}
			return testsmtp.R(550, "5.1.1", "<"+addr+">: Recipient address rejected: User unknown")
		},
	}}
	ss.srv.Serve(l)
	t.Cleanup(ss.srv.Close)
	w.server = ss
	w.res.MX["pool-mail.com"] = []*net.MX{{Host: "mx.pool-mail.com", Pref: 10}}
	w.res.IP["mx.pool-mail.com"] = []netip.Addr{netip.MustParseAddr("127.0.3.1")}
	return w
}

// generous is a profiles table whose budgets do not bind in these tests.
const generous = `{"about": "test", "profiles": [{"provider": "default", "per_minute": 1000, "per_hour": 10000, "per_day": 100000, "sessions": 4,
 "sources": {"per_minute": "test", "per_hour": "test", "per_day": "test", "sessions": "test"}}]}`

func profiles(t *testing.T, js string) *egress.Profiles {
	t.Helper()
	p, err := egress.ParseProfiles(strings.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (w *egressWorld) verifier(t *testing.T, n int, prof string) (*Verifier, *[]egress.EgressEvent) {
	var mu sync.Mutex
	events := &[]egress.EgressEvent{}
	v := &Verifier{Resolver: w.res, AllowPrivate: true, HELO: "verifier.example.net", Port: w.port, ResolverCanary: "-",
		GreylistMaxWait: time.Nanosecond, CommandTimeout: 5 * time.Second, Timeout: 20 * time.Second, MaxRcpts: 4,
		Profiles: profiles(t, prof),
		OnEgressEvent: func(ev egress.EgressEvent) {
			mu.Lock()
			*events = append(*events, ev)
			mu.Unlock()
		}}
	for i := range n {
		v.Egresses = append(v.Egresses, egress.Egress{Name: fmt.Sprintf("e%d", i+2), Source: netip.AddrFrom4([4]byte{127, 0, 0, byte(i + 2)})})
	}
	return v, events
}

// check runs the world's addresses and checks soundness: no address
// that does not exist is deliverable, none that exists undeliverable. It
// returns the results by address.
func (w *egressWorld) check(t *testing.T, v *Verifier) map[string]Result {
	t.Helper()
	out := map[string]Result{}
	for _, r := range v.VerifyAll(context.Background(), w.addrs) {
		out[r.Input] = r
		switch {
		case r.Status == Deliverable && !w.known[r.Input]:
			t.Errorf("%s: deliverable, but it does not exist (%s)", r.Input, r.Reason)
		case r.Status == Undeliverable && w.known[r.Input]:
			t.Errorf("%s: undeliverable (%s), but it exists", r.Input, r.Reason)
		}
	}
	if len(out) != len(w.addrs) {
		t.Fatalf("%d results for %d addresses", len(out), len(w.addrs))
	}
	return out
}

func brief(res map[string]Result) string {
	var b strings.Builder
	for a, r := range res {
		fmt.Fprintf(&b, "\n  %s %s/%s", a, r.Status, r.Reason)
	}
	return b.String()
}

// right reports how many results have the verdict the mailbox deserves.
func (w *egressWorld) right(res map[string]Result) int {
	n := 0
	for a, r := range res {
		if (w.known[a] && r.Status == Deliverable) || (!w.known[a] && r.Status == Undeliverable) {
			n++
		}
	}
	return n
}

func hasEvent(evs []egress.EgressEvent, eg string, to egress.State) bool {
	for _, ev := range evs {
		if ev.Egress == eg && ev.To == to {
			return true
		}
	}
	return false
}

// The tests of this file run before the package's parallel ones (none of
// them calls t.Parallel at the top), so that their real listeners add no
// load to the timing-sensitive TestPerServerLimits.

// TestEgressBadSourceMovesWork: one source address is banned (after some
// RCPTs, or from the start with an S3150 text), throttled (421 4.7.28) or
// soft-limited by the server; the work finishes through the healthy
// egress with every verdict right, and the bad egress's state changes.
func TestEgressBadSourceMovesWork(t *testing.T) {
	ban := testsmtp.R(550, "5.7.1", "Service unavailable; Client host [127.0.0.2] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/127.0.0.2")
	s3150 := testsmtp.R(550, "5.7.1", "Unfortunately, messages from [127.0.0.2] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).")
	throttle := testsmtp.R(421, "4.7.28", "[127.0.0.2] Our system has detected an unusual rate of unsolicited mail originating from your IP address.")
	for _, tc := range []struct {
		name string
		rule sourceRule
		to   egress.State
	}{
		{"ban after RCPTs", sourceRule{mail: &ban, after: 3}, egress.StateBlocked},
		{"S3150 at MAIL FROM", sourceRule{mail: &s3150}, egress.StateBlocked},
		{"421 4.7.28", sourceRule{rcpt: &throttle, after: 2}, egress.StateThrottled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newEgressWorld(t, "127.0.0.2", tc.rule)
			v, events := w.verifier(t, 2, generous)
			res := w.check(t, v)
			if n := w.right(res); n != len(w.addrs) {
				t.Errorf("%d of %d verdicts right; want all, through the healthy egress:%s", n, len(w.addrs), brief(res))
			}
			if !hasEvent(*events, "e2", tc.to) {
				t.Errorf("no event moving e2 to %s: %+v", tc.to, *events)
			}
			if hasEvent(*events, "e3", tc.to) {
				t.Errorf("the healthy egress e3 was marked: %+v", *events)
			}
		})
	}
}

// TestEgressBannedEverywhereIsUnknown: with the only egress banned, the
// addresses end unknown/blocked with retry_after, never undeliverable.
func TestEgressBannedEverywhereIsUnknown(t *testing.T) {
	ban := testsmtp.R(554, "5.7.1", "Service unavailable; Client host [127.0.0.2] blocked using zen.spamhaus.org")
	w := newEgressWorld(t, "127.0.0.2", sourceRule{mail: &ban, after: 2})
	v, _ := w.verifier(t, 1, generous)
	res := w.check(t, v)
	blocked := 0
	for _, r := range res {
		if r.Status == Unknown && r.Reason == ReasonBlocked {
			blocked++
			if r.RetryAfter <= 0 && r.SMTP == nil {
				t.Errorf("%s: blocked with neither the reply nor retry_after", r.Input)
			}
		}
	}
	if blocked == 0 {
		t.Errorf("no address ended unknown/blocked:%s", brief(res))
	}
}

// TestEgressSoftLimit: the server starts accepting everyone from one
// source address after some RCPTs. No address that does not exist is
// deliverable; the acceptances the accepted canary covers are
// unknown/soft_limited; the egress is marked soft-limited.
func TestEgressSoftLimit(t *testing.T) {
	accept := testsmtp.R(250, "2.1.5", "Ok")
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d egresses", n), func(t *testing.T) {
			// The spell begins at the 7th RCPT: in the second flush, after
			// an acceptance that waits for its canary (the first flush is
			// the probe, user00, the canary and postmaster@, the control
			// after it: flushControls).
			w := newEgressWorld(t, "127.0.0.2", sourceRule{rcpt: &accept, after: 6})
			v, events := w.verifier(t, n, generous)
			res := w.check(t, v)
			soft := 0
			for _, r := range res {
				if r.Reason == ReasonSoftLimited {
					soft++
					if r.Status != Unknown || r.RetryAfter <= 0 {
						t.Errorf("%s: %s/%s retry_after %v; want unknown with retry_after", r.Input, r.Status, r.Reason, r.RetryAfter)
					}
				}
			}
			if soft == 0 {
				t.Errorf("no acceptance was marked soft_limited:%s", brief(res))
			}
			if !hasEvent(*events, "e2", egress.StateSoftLimited) {
				t.Errorf("e2 not marked soft-limited: %+v", *events)
			}
		})
	}
}

// TestEgressBudgetsHold: with a budget of 8 RCPTs a minute per egress,
// the server sees at most 8 from each source address, and the addresses
// that did not fit end unknown/rate_limited with retry_after.
func TestEgressBudgetsHold(t *testing.T) {
	const tight = `{"about": "test", "profiles": [{"provider": "default", "per_minute": 8, "per_hour": 100, "per_day": 1000, "sessions": 1,
 "sources": {"per_minute": "test", "per_hour": "test", "per_day": "test", "sessions": "test"}}]}`
	w := newEgressWorld(t, "", sourceRule{})
	v, _ := w.verifier(t, 2, tight)
	v.Timeout = 2 * time.Second
	res := w.check(t, v)
	for src, n := range w.server.perSource() {
		if n > 8 {
			t.Errorf("source %s sent %d RCPTs; the budget is 8 a minute", src, n)
		}
	}
	if len(w.server.perSource()) != 2 {
		t.Errorf("sources seen %v; want both egresses used", w.server.perSource())
	}
	limited := 0
	for _, r := range res {
		if r.Reason == ReasonRateLimited {
			limited++
			if r.RetryAfter <= 0 {
				t.Errorf("%s: rate_limited without retry_after", r.Input)
			}
		}
	}
	if limited == 0 {
		t.Errorf("12 addresses and their probes fit in 16 RCPTs?%s", brief(res))
	}
}

// TestPort25DecisionExpires: a decision that port 25 is closed stands for
// port25Retry, then the dials are watched afresh.
func TestPort25DecisionExpires(t *testing.T) {
	calls := 0
	v := &Verifier{OnPort25Blocked: func(*egress.Port25Error) { calls++ }}
	v.init()
	refused := &net.OpError{Op: "dial", Err: errors.New("connection refused")}
	for i, a := range []string{"192.0.2.1:25", "198.51.100.1:25", "203.0.113.1:25"} {
		err := v.observeDial("direct", a, "", refused)
		if (err != nil) != (i == 2) {
			t.Fatalf("dial %d: %v", i, err)
		}
	}
	if !errors.Is(v.port25().d.Blocked("direct"), egress.ErrPort25Blocked) || calls != 1 {
		t.Fatalf("not decided once: %v, %d calls", v.port25().d.Blocked("direct"), calls)
	}
	v.eg.port25.Load().made = time.Now().Add(-port25Retry - time.Second)
	if err := v.port25().d.Blocked("direct"); err != nil {
		t.Errorf("after port25Retry the decision stands: %v", err)
	}
}
