package verify

import (
	"context"
	"fmt"
	"iter"
	"net"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// TestSharedServerVerdictsAreSound attacks trailsFirst, whose state is
// kept per server address across domains: the server refuses the
// unknown mailboxes of names.com naming the reason, and then answers
// each other domain at the same address in a hostile way of its own.
// No verdict may be wrong, and the limits hold at the server.
func TestSharedServerVerdictsAreSound(t *testing.T) {
	rules := map[string]domainRule{
		// Catch-all for this domain only.
		"catch.com": func(*sharedServer, *testsmtp.Conn, string) testsmtp.Reply { return testsmtp.R(250, "2.1.5", "Ok") },
		// Honest for the first 3 RCPTs of a connection, then 250 for all.
		"softconn.com": func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply {
			if s.count[fmt.Sprint("softconn", c.Index)]++; s.count[fmt.Sprint("softconn", c.Index)] > 3 {
				return testsmtp.R(250, "2.1.5", "Ok")
			}
			return s.honest(a)
		},
		// Honest for the domain's first 2 RCPTs, then 250 for all.
		"softdom.com": func(s *sharedServer, _ *testsmtp.Conn, a string) testsmtp.Reply {
			if s.count["softdom"]++; s.count["softdom"] > 2 {
				return testsmtp.R(250, "2.1.5", "Ok")
			}
			return s.honest(a)
		},
		// Rate-based anti-harvest: while the client sent more than 5 RCPTs
		// in the last 100 ms, 250 for everyone; honest again once it slows
		// down. The accept-all spell ends by itself, within a transaction.
		"softrate.com": func(s *sharedServer, _ *testsmtp.Conn, a string) testsmtp.Reply {
			recent := 0
			for _, at := range s.times {
				if time.Since(at) < 100*time.Millisecond {
					recent++
				}
			}
			if recent > 5 {
				return testsmtp.R(250, "2.1.5", "Ok")
			}
			return s.honest(a)
		},
		// A per-transaction cap: "550 Rejected" from the 4th RCPT on.
		"cap.com": func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply {
			if c.Rcpts >= 3 {
				return testsmtp.R(550, "", "Rejected")
			}
			return s.honest(a)
		},
		// Harvest protection: after 2 unknown recipients of the domain,
		// "550 Rejected" to everyone, for good.
		"harvest.com": func(s *sharedServer, _ *testsmtp.Conn, a string) testsmtp.Reply {
			if s.count["harvest"] >= 2 {
				return testsmtp.R(550, "", "Rejected")
			}
			if !s.known[a] {
				s.count["harvest"]++
			}
			return s.honest(a)
		},
		// Greylists every address for 90 s, then names the reason.
		"grey.com": func(s *sharedServer, _ *testsmtp.Conn, a string) testsmtp.Reply {
			t0, ok := s.seen[a]
			if !ok {
				s.seen[a], t0 = time.Now(), time.Now()
			}
			if time.Since(t0) < 90*time.Second {
				return testsmtp.R(450, "4.7.1", "Greylisted, please come back later")
			}
			return s.honest(a)
		},
		// Greylists every address once for 90 s; its retry answer is a
		// generic refusal (a protection, not about the mailbox).
		"grey5xx.com": func(s *sharedServer, _ *testsmtp.Conn, a string) testsmtp.Reply {
			t0, ok := s.seen[a]
			if !ok {
				s.seen[a], t0 = time.Now(), time.Now()
			}
			if time.Since(t0) < 90*time.Second {
				return testsmtp.R(450, "4.7.1", "Greylisted, please come back later")
			}
			return testsmtp.R(550, "", "Rejected")
		},
	}
	for d := range rules {
		t.Run(d, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				known := map[string]bool{"a@names.com": true}
				var rest []string
				for i := range 12 {
					a := fmt.Sprintf("u%d@%s", i, d)
					if i%3 != 2 {
						known[a] = true
					}
					rest = append(rest, a)
				}
				w, s := reviewWorld(t, known, map[string]domainRule{d: rules[d]})
				first := []string{"a@names.com", "x1@names.com", "x2@names.com"}
				v := w.verifier()
				v.GreylistDelay, v.GreylistMaxWait, v.PerHostRate = time.Minute, 10*time.Minute, 5
				release := make(chan struct{})
				n := 0
				for i, r := range v.VerifySeq(t.Context(), twoPhase(first, rest, release)) {
					if n++; n == len(first) {
						close(release)
					}
					var in string
					if i < len(first) {
						in = first[i]
					} else {
						in = rest[i-len(first)]
					}
					if r.Input != in {
						t.Errorf("result %d is for %s, want %s", i, r.Input, in)
					}
					t.Logf("%s (exists %v): %s/%s", in, known[in], r.Status, r.Reason)
					switch {
					case r.Status == Deliverable && !known[in]:
						t.Errorf("%s: deliverable, but there is no such mailbox", in)
					case r.Status == Undeliverable && known[in]:
						t.Errorf("%s: undeliverable (%s), but the mailbox exists", in, r.Reason)
					}
				}
				if n != len(first)+len(rest) {
					t.Errorf("%d results for %d addresses", n, len(first)+len(rest))
				}
				s.mu.Lock()
				defer s.mu.Unlock()
				if i, j, ok := overPace(s.times, 5); !ok {
					t.Errorf("%d RCPTs in %v, the promise is at most 10 + 5/s", j-i+1, s.times[j].Sub(s.times[i]))
				}
			})
		})
	}
}

// overPace finds RCPTs i..j (times in order) that break the promise of
// burst 10 + rate per second; ok when none does. A millisecond of slack
// absorbs the limiter's rounding of token times to the nanosecond.
func overPace(times []time.Time, rate float64) (int, int, bool) {
	for i := range times {
		for j := i + 10; j < len(times); j++ {
			if float64(j-i+1) > 10+rate*(times[j].Sub(times[i])+time.Millisecond).Seconds() {
				return i, j, false
			}
		}
	}
	return 0, 0, true
}

// TestSharedServerLimits counts at one server address what the limits
// promise when many ways lead there: eight domains with MX names of their
// own on it, four more rerouted to it from a primary that refuses the
// connection or greets with 421, a closer (421 after 4 RCPTs of a
// connection, so the session reconnects), greylisting (retries) and
// catch-all probes. The server never has more than PerHost connections
// open, the client never more than Concurrency, and the RCPTs keep to
// burst 10 + PerHostRate a second.
func TestSharedServerLimits(t *testing.T) {
	for _, perHost := range []int{1, 2} {
		t.Run(fmt.Sprint("PerHost=", perHost), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { checkSharedLimits(t, perHost) })
		})
	}
}

func checkSharedLimits(t *testing.T, perHost int) {
	known := map[string]bool{}
	rules := map[string]domainRule{}
	var addrs []string
	for d := range 12 {
		dom := fmt.Sprintf("d%d.com", d)
		for i := range 9 {
			a := fmt.Sprintf("u%d@%s", i, dom)
			known[a] = i%4 != 3
			addrs = append(addrs, a)
		}
		switch d % 4 {
		case 1: // a closer
			rules[dom] = func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply {
				k := fmt.Sprint("conn", c.Index)
				if s.count[k]++; s.count[k] > 4 {
					return testsmtp.R(421, "4.7.0", "Too many commands, closing")
				}
				return s.honest(a)
			}
		case 2: // greylisting for 70 s
			rules[dom] = func(s *sharedServer, _ *testsmtp.Conn, a string) testsmtp.Reply {
				t0, ok := s.seen[a]
				if !ok {
					s.seen[a], t0 = time.Now(), time.Now()
				}
				if time.Since(t0) < 70*time.Second {
					return testsmtp.R(450, "4.7.1", "Greylisted, please come back later")
				}
				return s.honest(a)
			}
		default:
			rules[dom] = (*sharedServer).honestRule
		}
	}
	w, s := reviewWorld(t, known, rules)
	shared := w.res.IP["mx.names.com"][0]
	busy := &testsmtp.Server{Banner: testsmtp.R(421, "4.7.0", "Too many connections, try again later")}
	t.Cleanup(busy.Close)
	busyIP, deadIP := netip.MustParseAddr("127.0.2.1"), netip.MustParseAddr("127.0.2.2")
	w.router[netip.AddrPortFrom(busyIP, 25).String()] = busy
	for d := 8; d < 12; d++ { // rerouted: the primary refuses or is busy
		dom := fmt.Sprintf("d%d.com", d)
		prim := "primary." + dom
		w.res.MX[dom] = []*net.MX{{Host: prim, Pref: 10}, {Host: "mx." + dom, Pref: 20}}
		w.res.IP[prim] = []netip.Addr{[]netip.Addr{busyIP, deadIP}[d%2]}
	}
	w.res.IP["mx.d0.com"] = []netip.Addr{shared}
	dial := &countingDialer{routes: w.router}
	const conc, rate = 3, 8.0
	v := w.verifier()
	ad := &addrDialer{inner: dial, open: map[string]int{}, most: map[string]int{}}
	v.Dialer, v.Concurrency, v.PerHost, v.PerHostRate = ad, conc, perHost, rate
	v.GreylistDelay, v.GreylistMaxWait = time.Minute, 5*time.Minute
	n, start := 0, time.Now()
	defer func() {
		t.Logf("%v (virtual); %d RCPTs at the shared server, %d connections; the busy primary %d", time.Since(start), len(s.times), s.srv.Connections(), busy.Connections())
	}()
	for _, r := range v.VerifyAll(t.Context(), addrs) {
		n++
		if r.Status == Deliverable && !known[r.Input] || r.Status == Undeliverable && known[r.Input] {
			t.Errorf("%s: %s/%s, exists %v", r.Input, r.Status, r.Reason, known[r.Input])
		}
	}
	if n != len(addrs) {
		t.Fatalf("%d results for %d addresses", n, len(addrs))
	}
	if m := ad.most[netip.AddrPortFrom(shared, 25).String()]; m > perHost {
		t.Errorf("the client had %d connections open at once to the shared server, PerHost is %d", m, perHost)
	}
	if m := s.srv.MaxOpen(); m > perHost {
		t.Errorf("the shared server had %d connections open at once, PerHost is %d", m, perHost)
	}
	if m := dial.maxOpen.Load(); m > conc {
		t.Errorf("%d sessions open at once, Concurrency is %d", m, conc)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, j, ok := overPace(s.times, rate); !ok {
		t.Errorf("%d RCPTs in %v, the promise is at most 10 + %v/s", j-i+1, s.times[j].Sub(s.times[i]), rate)
	}
	if len(s.times) < len(addrs) {
		t.Errorf("the server saw %d RCPTs for %d addresses", len(s.times), len(addrs))
	}
}

// greyRule greylists every address for d, then answers honestly.
func greyRule(d time.Duration) domainRule {
	return func(s *sharedServer, _ *testsmtp.Conn, a string) testsmtp.Reply {
		t0, ok := s.seen[a]
		if !ok {
			s.seen[a], t0 = time.Now(), time.Now()
		}
		if time.Since(t0) < d {
			return testsmtp.R(450, "4.7.1", "Greylisted, please come back later")
		}
		return s.honest(a)
	}
}

// streamWorld: 40 addresses at a greylisting server (parked, spilled
// from the window), 100 at a server whose queue runs deep at the pace
// (spilled), 30 at another; Window 5, PerHostRate 2.
func streamWorld(t *testing.T) (*Verifier, []string, map[string]*sharedServer) {
	w := newWorld()
	t.Cleanup(w.router.close)
	known := map[string]bool{}
	var addrs []string
	servers := map[string]*sharedServer{}
	for _, d := range []struct {
		dom  string
		n    int
		rule domainRule
	}{{"grey.com", 40, greyRule(70 * time.Second)}, {"deep.com", 100, (*sharedServer).honestRule}, {"fast.com", 30, (*sharedServer).honestRule}} {
		for i := range d.n {
			a := fmt.Sprintf("u%d@%s", i, d.dom)
			known[a] = i%5 != 4
			addrs = append(addrs, a)
		}
		s := newSharedServer(known, map[string]domainRule{d.dom: d.rule})
		servers[d.dom] = s
		w.add(d.dom, s.srv)
	}
	v := w.verifier()
	v.Window, v.PerHostRate, v.GreylistDelay, v.GreylistMaxWait = 5, 2, time.Minute, 10*time.Minute
	return v, addrs, servers
}

// TestStreamCancelledWithSpilledWork cancels a VerifySeq run halfway,
// with parked and deeply queued work spilled from the window: every
// position read comes out exactly once, soon after the cancellation.
func TestStreamCancelledWithSpilledWork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v, addrs, _ := streamWorld(t)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		start := time.Now()
		time.AfterFunc(20*time.Second, cancel)
		got := map[int]int{}
		var last time.Duration
		late := 0
		for i, r := range v.VerifySeq(ctx, slicesAll(addrs)) {
			got[i]++
			if last = time.Since(start); last >= 20*time.Second {
				late++
			}
			if i < 0 || i >= len(addrs) || r.Input != addrs[i] {
				t.Fatalf("result %d is for %q", i, r.Input)
			}
		}
		for i, n := range got {
			if n != 1 {
				t.Errorf("position %d came out %d times", i, n)
			}
		}
		if len(got) != len(addrs) {
			t.Errorf("%d positions came out of %d", len(got), len(addrs))
		}
		if late == 0 {
			t.Errorf("all done before the cancellation: the test does not cancel work")
		}
		t.Logf("%d results at or after the cancellation", late)
		if last > 21*time.Second {
			t.Errorf("the last result came %v after the start, the run was cancelled at 20s", last)
		}
	})
}

// TestStreamDeadlinesWithSpilledWork: with Timeout 40s, greylisting for
// 70s and a deep queue at the pace, each address ends by its deadline:
// no later than Timeout after its first RCPT (its first attempt came
// before that), and none is lost or duplicated.
func TestStreamDeadlinesWithSpilledWork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v, addrs, servers := streamWorld(t)
		v.Timeout = 40 * time.Second
		got := map[int]int{}
		for i, r := range v.VerifySeq(t.Context(), slicesAll(addrs)) {
			got[i]++
			_, dom, _ := strings.Cut(r.Input, "@")
			s := servers[dom]
			s.mu.Lock()
			first, ok := s.first[r.Input]
			s.mu.Unlock()
			if ok && time.Since(first) > v.Timeout {
				t.Errorf("%s ended %v after its first RCPT; Timeout is %v (%s/%s)", r.Input, time.Since(first), v.Timeout, r.Status, r.Reason)
			}
		}
		for i, n := range got {
			if n != 1 {
				t.Errorf("position %d came out %d times", i, n)
			}
		}
		if len(got) != len(addrs) {
			t.Errorf("%d positions came out of %d", len(got), len(addrs))
		}
	})
}

func slicesAll(s []string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, a := range s {
			if !yield(a) {
				return
			}
		}
	}
}
