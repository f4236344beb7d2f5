package verify

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// The review of the batch planning by domain (#24, a7bf760 and 4f00163):
// take offers a server's jobs by domain in chunks as large as a new
// connection's flush, a chunk waits for a flush it fits whole, and at a
// rate-bound server the densest domains go first. See
// /work/notes/rev-group.md.

// groupSizes are uneven domains on one server: a dense one, a middling
// one and sparse ones, so that densest-first reorders them.
var groupSizes = map[string]int{"dense.com": 30, "mid.com": 10, "sp1.com": 2, "sp2.com": 1, "sp3.com": 2}

// groupAddrs returns the addresses of sizes, u0@... of each, read
// round-robin across the domains, and which exist: all but every third.
func groupAddrs(sizes map[string]int) (map[string]bool, []string) {
	doms := make([]string, 0, len(sizes))
	most := 0
	for d, n := range sizes {
		doms = append(doms, d)
		most = max(most, n)
	}
	slices.Sort(doms)
	known := map[string]bool{}
	var addrs []string
	for i := range most {
		for _, d := range doms {
			if i < sizes[d] {
				a := fmt.Sprintf("u%d@%s", i, d)
				known[a] = i%3 != 2
				addrs = append(addrs, a)
			}
		}
	}
	return known, addrs
}

// groupCase runs the domains of sizes on one review server answering by
// rule, at rate RCPTs a second, and fails on any wrong definite verdict
// and on any address without a result or a reason.
func groupCase(t *testing.T, rate float64, setup func(*sharedServer, *Verifier), rule domainRule) map[string]Result {
	t.Helper()
	known, addrs := groupAddrs(groupSizes)
	rules := map[string]domainRule{}
	for d := range groupSizes {
		rules[d] = rule
	}
	w, s := reviewWorld(t, known, rules)
	v := w.verifier()
	v.PerHostRate = rate
	paced(v)
	s.srv.Latency = 10 * time.Millisecond
	if setup != nil {
		setup(s, v)
	}
	got := map[string]Result{}
	for _, r := range v.VerifyAll(t.Context(), addrs) {
		got[r.Input] = r
		switch {
		case r.Status == Deliverable && !known[r.Input]:
			t.Errorf("%s: deliverable, but there is no such mailbox", r.Input)
		case r.Status == Undeliverable && known[r.Input]:
			t.Errorf("%s: undeliverable (%s), but the mailbox exists", r.Input, r.Reason)
		case r.Reason == "":
			t.Errorf("%s: %s without a reason", r.Input, r.Status)
		}
	}
	if len(got) != len(addrs) {
		t.Errorf("%d results for %d addresses", len(got), len(addrs))
	}
	n := 0
	for _, r := range got {
		n += boolInt(r.Status == Deliverable)
	}
	t.Logf("%d deliverable of %d, %d connections", n, len(got), s.srv.Connections())
	return got
}

// TestReviewGroupPositionalRateBound: the positional servers of
// TestAcceptFirstOfDomainInFlush, TestAcceptFirstOfFlush and
// TestAcceptFirstOfTransaction, at a rate-bound server (where
// groupOrder reorders by density) with uneven domains, so that whole
// chunks, leftovers of sparse domains and reordering all happen.
func TestReviewGroupPositionalRateBound(t *testing.T) {
	type blind func(fc *flushClock, c *testsmtp.Conn, a string) bool
	cases := map[string]func() blind{}
	for _, k := range []int{1, 2, 4} {
		cases[fmt.Sprint("first-of-domain-in-flush,k=", k)] = func() blind {
			count := map[string]int{}
			var at time.Time
			return func(_ *flushClock, _ *testsmtp.Conn, a string) bool {
				_, d, _ := strings.Cut(a, "@")
				if now := time.Now(); !now.Equal(at) {
					at = now
					clear(count)
				}
				count[d]++
				return count[d] <= k
			}
		}
		cases[fmt.Sprint("first-of-flush,k=", k)] = func() blind {
			return func(fc *flushClock, _ *testsmtp.Conn, _ string) bool { return fc.next() <= k }
		}
		cases[fmt.Sprint("first-of-transaction,k=", k)] = func() blind {
			return func(_ *flushClock, c *testsmtp.Conn, _ string) bool { return c.Rcpts < k }
		}
	}
	for name, mk := range cases {
		for _, rate := range []float64{3, 1000} {
			t.Run(fmt.Sprintf("%s,rate=%v", name, rate), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					fc, b := &flushClock{}, mk()
					groupCase(t, rate, nil, func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply {
						if b(fc, c, a) {
							return testsmtp.R(250, "2.1.5", "Ok")
						}
						return s.honest(a)
					})
				})
			})
		}
	}
}

// TestReviewGroupOneDomainBlindFirst: a Google-like server (451 4.3.0 to
// a second domain in a transaction) that also accepts the first k
// recipients of each transaction blindly. With the one-domain quirk each
// batch is one domain in transactions of its own; the front at the head
// of each transaction must still show the blind acceptances.
func TestReviewGroupOneDomainBlindFirst(t *testing.T) {
	for _, k := range []int{1, 2, 3} {
		for _, rate := range []float64{3, 1000} {
			t.Run(fmt.Sprintf("k=%d,rate=%v", k, rate), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					var mu sync.Mutex
					first := map[int]string{}
					n := map[int]int{}
					groupCase(t, rate, func(s *sharedServer, _ *Verifier) {
						reset := func(c *testsmtp.Conn, _ testsmtp.Command) testsmtp.Reply {
							mu.Lock()
							delete(first, c.Index)
							delete(n, c.Index)
							mu.Unlock()
							return testsmtp.R(250, "2.1.0", "OK")
						}
						s.srv.Handlers["MAIL"] = reset
						s.srv.Handlers["RSET"] = reset
					}, func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply {
						_, d, _ := strings.Cut(a, "@")
						mu.Lock()
						defer mu.Unlock()
						f, ok := first[c.Index]
						if !ok {
							first[c.Index], f = d, d
						}
						if f != d {
							return testsmtp.R(451, "4.3.0", "Multiple destination domains per transaction is unsupported.  Please try again.")
						}
						n[c.Index]++
						if n[c.Index] <= k {
							return testsmtp.R(250, "2.1.5", "Ok")
						}
						return s.honest(a)
					})
				})
			})
		}
	}
}

// TestReviewGroupCancelled: the caller's context ends while dense
// domains hold sparse ones back at a rate-bound server: every address
// still gets a result with a reason, promptly.
func TestReviewGroupCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		known, addrs := groupAddrs(groupSizes)
		w, s := reviewWorld(t, known, map[string]domainRule{"dense.com": nil, "mid.com": nil, "sp1.com": nil, "sp2.com": nil, "sp3.com": nil})
		s.rules = nil
		s.srv.Latency = 10 * time.Millisecond
		v := w.verifier()
		v.PerHostRate = 2
		paced(v)
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		start := time.Now()
		n := 0
		for _, r := range v.VerifyAll(ctx, addrs) {
			n++
			if r.Reason == "" {
				t.Errorf("%s: %s without a reason", r.Input, r.Status)
			}
		}
		if n != len(addrs) {
			t.Errorf("%d results for %d addresses", n, len(addrs))
		}
		if took := time.Since(start); took > 7*time.Second {
			t.Errorf("ended %v after the start, the context ended at 5s", took)
		}
	})
}

// TestReviewGroupSoundnessRateBound: TestSoundness's worlds (phase one)
// with a slow PerHostRate, so that the bucket is short from the first
// flush on and groupOrder sorts by density at every server, with the
// result within the world's budget and no goroutine left.
func TestReviewGroupSoundnessRateBound(t *testing.T) {
	n := uint64(150)
	if testing.Short() {
		n = 40
	}
	for seed := range n {
		ok := t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sw := genWorld(seed)
				defer sw.router.close()
				cfg := genConfig(rand.New(rand.NewPCG(seed, 7)))
				v := cfg.verifier(sw)
				v.PerHostRate = 1.5
				paced(v)
				ctx, cancel := context.WithTimeout(t.Context(), sw.budget)
				defer cancel()
				start := time.Now()
				seen := map[int]bool{}
				for i, r := range v.VerifyAll(ctx, sw.addrs) {
					seen[i] = true
					sw.checkResult(t, seed, cfg, "VerifyAll rate 1.5", sw.addrs[i], r)
					if r.Reason == "" {
						t.Errorf("seed %d: %s: %s without a reason", seed, sw.addrs[i], r.Status)
					}
				}
				if len(seen) != len(sw.addrs) {
					t.Errorf("seed %d: %d results for %d addresses", seed, len(seen), len(sw.addrs))
				}
				if d := time.Since(start); d > sw.budget+100*time.Millisecond {
					t.Errorf("seed %d: took %v on a %v budget", seed, d, sw.budget)
				}
				sw.checkLeftovers(t, seed, cfg, "VerifyAll rate 1.5")
			})
		})
		if !ok {
			break
		}
	}
}

// TestReviewGroupConnLimitBlindFirst: a server that takes n RCPTs a
// connection (421 after them, then closes) and accepts the first k of
// each connection blindly: a chunk sized for a new connection's flush
// meets the connection's end, and its front, addresses and canary may
// land on different connections.
func TestReviewGroupConnLimitBlindFirst(t *testing.T) {
	for _, n := range []int{4, 6, 9} {
		for _, k := range []int{1, 2} {
			for _, rate := range []float64{3, 1000} {
				t.Run(fmt.Sprintf("n=%d,k=%d,rate=%v", n, k, rate), func(t *testing.T) {
					synctest.Test(t, func(t *testing.T) {
						count := map[int]int{}
						groupCase(t, rate, nil, func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply {
							count[c.Index]++
							switch {
							case count[c.Index] > n:
								return testsmtp.R(421, "4.7.0", "Too many recipients on this connection, closing")
							case count[c.Index] <= k:
								return testsmtp.R(250, "2.1.5", "Ok")
							}
							return s.honest(a)
						})
					})
				})
			}
		}
	}
}

// TestReviewGroupOneDomainManyDomains (a guard, green): a Google-like
// server (451 4.3.0 to a second domain in a transaction, jane@ and
// postmaster@ exist) for a dense domain and 30 sparse ones at a
// rate-bound server: one domain a batch, and every address ends by the
// caller's 60 s with a reason and never a wrong definite verdict.
func TestReviewGroupOneDomainManyDomains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		host := w.add("dense-gsuite.com", oneDomainPerTransaction())
		addrs := []string{}
		for i := range 20 {
			addrs = append(addrs, fmt.Sprintf("ghost%d@dense-gsuite.com", i))
		}
		addrs = append(addrs, "jane@dense-gsuite.com")
		for i := range 30 {
			d := fmt.Sprintf("g%d-gsuite.com", i)
			w.res.MX[d] = []*net.MX{{Host: host, Pref: 10}}
			addrs = append(addrs, "jane@"+d, "ghost@"+d)
		}
		v := w.verifier()
		v.PerHostRate = 3
		paced(v)
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		start := time.Now()
		n, statuses := 0, map[string]int{}
		for _, r := range v.VerifyAll(ctx, addrs) {
			n++
			statuses[fmt.Sprint(r.Status, "/", r.Reason)]++
			jane := strings.HasPrefix(r.Input, "jane@")
			switch {
			case r.Reason == "":
				t.Errorf("%s: %s without a reason", r.Input, r.Status)
			case r.Status == Deliverable && !jane:
				t.Errorf("%s: deliverable, but there is no such mailbox", r.Input)
			case r.Status == Undeliverable && jane:
				t.Errorf("%s: undeliverable (%s), but the mailbox exists", r.Input, r.Reason)
			}
		}
		t.Logf("%d results after %v: %v", n, time.Since(start), statuses)
		if n != len(addrs) {
			t.Errorf("%d results for %d addresses", n, len(addrs))
		}
		if d := time.Since(start); d > time.Minute+100*time.Millisecond {
			t.Errorf("took %v, the caller gave a minute", d)
		}
	})
}
