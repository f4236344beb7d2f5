package verify

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// More of the canary review (see review_canary_test.go): limits, tarpits,
// fallbacks, and servers that judge by position on a connection or in a
// domain's run of a transaction.

// TestMaxRcptsHoldsWithCanaries: MaxRcpts caps recipients per
// transaction, and the canaries (one per domain, with controls) now ride
// in the batch's transaction. Three domains interleaved on one server
// whose own cap is MaxRcpts (452 4.5.3 past it): the server never sees
// more than MaxRcpts RCPTs in a transaction, and no verdict is wrong.
func TestMaxRcptsHoldsWithCanaries(t *testing.T) {
	for _, maxR := range []int{1, 2, 3, 5} {
		t.Run(fmt.Sprint("MaxRcpts=", maxR), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				doms := []string{"m1.com", "m2.com", "m3.com"}
				known, addrs := everyThird(6, doms...)
				most := 0
				capped := func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply {
					most = max(most, c.Rcpts+1)
					if c.Rcpts >= maxR {
						return testsmtp.R(452, "4.5.3", "Too many recipients")
					}
					return s.honest(a)
				}
				rules := map[string]domainRule{}
				for _, d := range doms {
					rules[d] = capped
				}
				w, s := reviewWorld(t, known, rules)
				v := w.verifier()
				v.PerHostRate, v.MaxRcpts = 1000, maxR
				paced(v)
				for _, r := range v.VerifyAll(t.Context(), addrs) {
					t.Logf("%s (exists %v): %s/%s", r.Input, known[r.Input], r.Status, r.Reason)
					if r.Status == Deliverable && !known[r.Input] || r.Status == Undeliverable && known[r.Input] {
						t.Errorf("%s: %s/%s, exists %v", r.Input, r.Status, r.Reason, known[r.Input])
					}
				}
				s.mu.Lock()
				defer s.mu.Unlock()
				if most > maxR {
					t.Errorf("the server saw %d RCPTs in one transaction; MaxRcpts is %d", most, maxR)
				}
			})
		})
	}
}

// TestCanaryPaceManyDomains: 15 domains of 2 addresses each on one
// server, so that a flush carries many canaries (and controls: the
// server refuses naming no reason). The RCPTs keep to burst 10 +
// PerHostRate a second, counted at the server, and sessions to PerHost.
func TestCanaryPaceManyDomains(t *testing.T) {
	for _, vague := range []bool{false, true} {
		t.Run(fmt.Sprint("vague=", vague), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				known := map[string]bool{}
				rules := map[string]domainRule{}
				var addrs []string
				rule := (*sharedServer).honestRule
				if vague {
					rule = func(s *sharedServer, _ *testsmtp.Conn, a string) testsmtp.Reply {
						if s.known[a] {
							return testsmtp.R(250, "2.1.5", "Ok")
						}
						return testsmtp.R(550, "", "Rejected")
					}
				}
				for d := range 15 {
					dom := fmt.Sprintf("p%d.com", d)
					rules[dom] = rule
					for i := range 2 {
						a := fmt.Sprintf("u%d@%s", i, dom)
						known[a] = (i+d)%3 != 2
						addrs = append(addrs, a)
					}
				}
				w, s := reviewWorld(t, known, rules)
				const rate = 5.0
				v := w.verifier()
				v.PerHostRate, v.PerHost = rate, 1
				paced(v)
				for _, r := range v.VerifyAll(t.Context(), addrs) {
					if r.Status == Deliverable && !known[r.Input] || r.Status == Undeliverable && known[r.Input] {
						t.Errorf("%s: %s/%s, exists %v", r.Input, r.Status, r.Reason, known[r.Input])
					}
				}
				s.mu.Lock()
				defer s.mu.Unlock()
				t.Logf("%d RCPTs for %d addresses, %d connections", len(s.times), len(addrs), s.srv.Connections())
				if i, j, ok := overPace(s.times, rate); !ok {
					t.Errorf("%d RCPTs in %v, the promise is at most 10 + %v/s", j-i+1, s.times[j].Sub(s.times[i]), rate)
				}
				if m := s.srv.MaxOpen(); m > 1 {
					t.Errorf("%d connections open at once, PerHost is 1", m)
				}
			})
		})
	}
}

// TestCanaryRefusedAsBlocked: a server that refuses only the canaries
// (it knows its addresses: any other is ours), with a blocklist text
// about the client (a reply about the egress), and is honest otherwise.
// The canary proves nothing; no verdict is wrong.
func TestCanaryRefusedAsBlocked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		canaryCase(t, "blockcan.com", func(s *sharedServer, _ *testsmtp.Conn, a string) testsmtp.Reply {
			if _, listed := s.known[a]; !listed {
				return testsmtp.R(554, "5.7.1", "Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org")
			}
			return testsmtp.R(250, "2.1.5", "Ok")
		}, nil)
	})
}

// TestSpellEndsBetweenCommandsWithoutPipelining: the spell of
// TestSpellEndsWithinSlowFlush on a server that does not advertise
// PIPELINING, 40 ms away: each command is a round trip, and the spell
// ends between the last blind acceptance and the canary right after it.
// doc.go states this residual risk ("What stays assumed").
func TestSpellEndsBetweenCommandsWithoutPipelining(t *testing.T) {
	for _, spell := range []time.Duration{60 * time.Millisecond, 100 * time.Millisecond, 130 * time.Millisecond} {
		t.Run(fmt.Sprint("spell=", spell), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var until, quiet time.Time
				canaryCase(t, "nopipe.com", func(s *sharedServer, _ *testsmtp.Conn, a string) testsmtp.Reply {
					now := time.Now()
					recent := 0
					for _, at := range s.times {
						if now.Sub(at) < time.Second {
							recent++
						}
					}
					if recent > 5 && now.After(quiet) {
						until, quiet = now.Add(spell), now.Add(time.Minute)
					}
					if now.Before(until) {
						return testsmtp.R(250, "2.1.5", "Ok")
					}
					return s.honest(a)
				}, func(s *sharedServer, _ *Verifier) {
					s.srv.Latency = 40 * time.Millisecond
					s.srv.Extensions = []string{"8BITMIME", "SIZE 10240000"}
				})
			})
		})
	}
}

// TestCanaryTarpitted: a catch-all that answers the canaries (any
// address not in the list) only after 10 minutes (a tarpit for
// verifiers). Each
// address ends within Timeout of its first RCPT at the server, and no
// acceptance is proven.
func TestCanaryTarpitted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		known, addrs := everyThird(12, "tarpit.com")
		w, s := reviewWorld(t, known, map[string]domainRule{"tarpit.com": func(_ *sharedServer, _ *testsmtp.Conn, a string) testsmtp.Reply {
			if _, listed := known[a]; !listed {
				return testsmtp.Reply{Code: 550, Lines: []string{"5.1.1 User unknown"}, Delay: 10 * time.Minute}
			}
			return testsmtp.R(250, "2.1.5", "Ok")
		}})
		v := w.verifier()
		v.PerHostRate, v.Timeout = 1000, time.Minute
		paced(v)
		start := time.Now()
		for _, r := range v.VerifyAll(t.Context(), addrs) {
			s.mu.Lock()
			first, ok := s.first[r.Input]
			s.mu.Unlock()
			t.Logf("%s: %s/%s at %v, first RCPT at %v", r.Input, r.Status, r.Reason, time.Since(start), first.Sub(start))
			if r.Status == Deliverable {
				t.Errorf("%s: deliverable on a catch-all", r.Input)
			}
			if ok && time.Since(first) > v.Timeout+time.Second {
				t.Errorf("%s ended %v after its first RCPT; Timeout is %v", r.Input, time.Since(first), v.Timeout)
			}
		}
	})
}

// TestOneCommandPerReadSpell: a server that advertises PIPELINING but
// reads one command a read (the rest is dropped), with the rate spell of
// TestRateSpellEndsWithinRoundTrip: the session falls back to one command
// a round trip mid-run; answers from before and after the fallback must
// not prove each other across the gap.
func TestOneCommandPerReadSpell(t *testing.T) {
	for _, rtt := range []time.Duration{0, 40 * time.Millisecond} {
		t.Run(fmt.Sprint("rtt=", rtt), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				canaryCase(t, "onecmd.com", softRate(100*time.Millisecond), func(s *sharedServer, _ *Verifier) {
					s.srv.OneCommandPerRead, s.srv.Latency = true, rtt
				})
			})
		})
	}
}

// TestFirstRcptOnlyWithCanary: Exchange Online's way (the first RCPT of a
// connection judged, 452 4.5.3 for every later one) on a server that
// advertises PIPELINING: the first flush, before the quirk is learned,
// carries a canary that is never judged. No wrong verdict; the judged
// first RCPT (exists or not) is never proven by a 452.
func TestFirstRcptOnlyWithCanary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		canaryCase(t, "exo.com", func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply {
			key := fmt.Sprint("exo", c.Index)
			if s.count[key]++; s.count[key] > 1 {
				return testsmtp.R(452, "4.5.3", "Too many recipients (AS780090)")
			}
			if s.known[a] {
				return testsmtp.R(250, "2.1.5", "Recipient OK")
			}
			return testsmtp.R(550, "5.1.10", "RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup")
		}, nil)
	})
}
