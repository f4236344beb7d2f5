package verify

import (
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// The review of the canary in the batch's own flush (3e88199, ae78b8e):
// servers that judge by position in a flush, by the canary's form, by
// counts per transaction, and servers whose one flush spans time. See
// /work/notes/rev-canary.md.

// canaryCase runs addrs (u0..u11 of dom, every third one nonexistent)
// against rule on the shared review server and fails on any wrong
// definite verdict. It returns the results by address.
func canaryCase(t *testing.T, dom string, rule domainRule, setup func(*sharedServer, *Verifier)) map[string]Result {
	t.Helper()
	known, addrs := everyThird(12, dom)
	w, s := reviewWorld(t, known, map[string]domainRule{dom: rule})
	v := w.verifier()
	v.PerHostRate = 1000
	paced(v)
	if setup != nil {
		setup(s, v)
	}
	got := map[string]Result{}
	for _, r := range v.VerifyAll(t.Context(), addrs) {
		got[r.Input] = r
		t.Logf("%s (exists %v): %s/%s catch_all=%v", r.Input, known[r.Input], r.Status, r.Reason, r.CatchAll)
		switch {
		case r.Status == Deliverable && !known[r.Input]:
			t.Errorf("%s: deliverable, but there is no such mailbox", r.Input)
		case r.Status == Undeliverable && known[r.Input]:
			t.Errorf("%s: undeliverable (%s), but the mailbox exists", r.Input, r.Reason)
		}
	}
	if len(got) != len(addrs) {
		t.Errorf("%d results for %d addresses", len(got), len(addrs))
	}
	return got
}

// everyThird returns n addresses of each of doms, u0@ to u(n-1)@, the
// domains taken in turn for each number, and which of them exist: all
// but every third (u2, u5, ...).
func everyThird(n int, doms ...string) (map[string]bool, []string) {
	known := map[string]bool{}
	var addrs []string
	for i := range n {
		for _, d := range doms {
			a := fmt.Sprintf("u%d@%s", i, d)
			known[a] = i%3 != 2
			addrs = append(addrs, a)
		}
	}
	return known, addrs
}

// flushClock tells the server's RCPTs apart by flush: with a latency,
// the commands of one flush reach the server at one instant (synctest),
// and the next flush a round trip later.
type flushClock struct {
	at  time.Time
	pos int // RCPTs of the current flush so far, this one included
}

func (f *flushClock) next() int {
	if now := time.Now(); !now.Equal(f.at) {
		f.at, f.pos = now, 0
	}
	f.pos++
	return f.pos
}

// TestAcceptFirstOfFlush: a server that accepts the first k RCPTs of
// each flush, whoever they are, and judges the rest (a front end that
// answers the first few from its queue and looks the rest up). The
// canary at the end of the flush is refused and would prove the blind
// acceptances before it; the catch-all probe alone at the front of the
// domain's first flush should give it away.
func TestAcceptFirstOfFlush(t *testing.T) {
	for _, k := range []int{1, 3, 6} {
		t.Run(fmt.Sprint("k=", k), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fc := &flushClock{}
				canaryCase(t, "firstk.com", func(s *sharedServer, _ *testsmtp.Conn, a string) testsmtp.Reply {
					if fc.next() <= k {
						return testsmtp.R(250, "2.1.5", "Ok")
					}
					return s.honest(a)
				}, func(s *sharedServer, _ *Verifier) { s.srv.Latency = 10 * time.Millisecond })
			})
		})
	}
}

// TestAcceptFirstOfTransaction: accepts the first k RCPTs of each
// transaction blindly, judges the rest; with a per-domain count in the
// transaction too (two domains interleaved would each get k blind ones).
func TestAcceptFirstOfTransaction(t *testing.T) {
	for _, k := range []int{2, 5} {
		t.Run(fmt.Sprint("k=", k), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				canaryCase(t, "firsttx.com", func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply {
					if c.Rcpts < k {
						return testsmtp.R(250, "2.1.5", "Ok")
					}
					return s.honest(a)
				}, nil)
			})
		})
	}
}

// TestCanaryOverTheCap: the canary is what takes the transaction over
// the server's recipient cap. Answered 452 4.5.3 (Microsoft's) or
// 552/550 5.5.3 (older servers), it proves nothing; no wrong verdict.
func TestCanaryOverTheCap(t *testing.T) {
	for _, tc := range []struct {
		cap  int
		code int
		enh  string
	}{{4, 452, "4.5.3"}, {6, 452, "4.5.3"}, {4, 552, "5.5.3"}, {6, 550, "5.5.3"}, {5, 550, ""}} {
		t.Run(fmt.Sprintf("cap=%d,%d_%s", tc.cap, tc.code, tc.enh), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				canaryCase(t, "cap2.com", func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply {
					if c.Rcpts >= tc.cap {
						return testsmtp.R(tc.code, tc.enh, "Too many recipients")
					}
					return s.honest(a)
				}, nil)
			})
		})
	}
}

// TestCanaryIsTheLastError: an honest server with Postfix's error limits
// set low: the canary's refusal is the error that reaches the hard limit
// (421 and a disconnect right after it) or the soft one (a sleep before
// every later reply).
func TestCanaryIsTheLastError(t *testing.T) {
	for _, lim := range []int{1, 2, 3, 5} {
		t.Run(fmt.Sprint("hard=", lim), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				canaryCase(t, "errlim.com", (*sharedServer).honestRule, func(s *sharedServer, _ *Verifier) {
					s.srv.HardErrorLimit = lim
				})
			})
		})
		t.Run(fmt.Sprint("soft=", lim), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				canaryCase(t, "errlim.com", (*sharedServer).honestRule, func(s *sharedServer, _ *Verifier) {
					s.srv.SoftErrorLimit, s.srv.ErrorSleep = lim, time.Second
				})
			})
		})
	}
}

// TestCatchAllForOneDomainInAMixedFlush: one server, two domains in
// every flush: catch-all for one, honest for the other. The catch-all
// domain's canary comes after the honest domain's refusals; its
// acceptances must not be proven by them.
func TestCatchAllForOneDomainInAMixedFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		known, addrs := everyThird(8, "honest.com", "all.com")
		w, _ := reviewWorld(t, known, map[string]domainRule{
			"honest.com": (*sharedServer).honestRule,
			"all.com":    func(*sharedServer, *testsmtp.Conn, string) testsmtp.Reply { return testsmtp.R(250, "2.1.5", "Ok") },
		})
		v := w.verifier()
		v.PerHostRate = 1000
		paced(v)
		for _, r := range v.VerifyAll(t.Context(), addrs) {
			t.Logf("%s (exists %v): %s/%s", r.Input, known[r.Input], r.Status, r.Reason)
			switch {
			case r.Status == Deliverable && !known[r.Input]:
				t.Errorf("%s: deliverable, but there is no such mailbox", r.Input)
			case r.Status == Undeliverable && known[r.Input]:
				t.Errorf("%s: undeliverable (%s), but the mailbox exists", r.Input, r.Reason)
			case strings.HasSuffix(r.Input, "@all.com") && r.Status == Deliverable:
				t.Errorf("%s: deliverable on a catch-all domain", r.Input)
			}
		}
	})
}
