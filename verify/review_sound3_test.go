package verify

import (
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// Attacks of the review that found no wrong verdict at ef1e7e2; kept as
// regression tests.

// honestCatchAll answers all.com as a catch-all and honest.com honestly,
// postmaster@ accepted.
func honestCatchAll(s *sharedServer, _ *testsmtp.Conn, a string, catchAll bool) testsmtp.Reply {
	if catchAll || s.known[a] || strings.HasPrefix(a, "postmaster@") {
		return testsmtp.R(250, "2.1.5", "Ok")
	}
	return lies["5.1.1"](a)
}

// TestLimitsWithTwoDomains: an honest server with a catch-all domain and
// an honest one, with Postfix's hard or soft error limit, or one that
// cuts the connection (a drop, or 421) at its lim+2-th RCPT, wherever
// that falls (a front, an address, the canary, the control).
func TestLimitsWithTwoDomains(t *testing.T) {
	for lim := 1; lim <= 6; lim++ {
		t.Run(fmt.Sprint("hard=", lim), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				twoDomainCase(t, honestCatchAll, func(s *sharedServer, _ *Verifier) { s.srv.HardErrorLimit = lim })
			})
		})
		t.Run(fmt.Sprint("soft=", lim), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				twoDomainCase(t, honestCatchAll, func(s *sharedServer, _ *Verifier) {
					s.srv.SoftErrorLimit, s.srv.ErrorSleep = lim, time.Second
				})
			})
		})
		for _, how := range []string{"drop", "421"} {
			t.Run(fmt.Sprint(how, "=", lim), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					twoDomainCase(t, func(s *sharedServer, c *testsmtp.Conn, a string, ca bool) testsmtp.Reply {
						k := fmt.Sprint("n", c.Index)
						s.count[k]++
						if s.count[k] == lim+2 && s.count["cut"] < 6 {
							s.count["cut"]++
							if how == "drop" {
								return testsmtp.Reply{Drop: true}
							}
							return testsmtp.R(421, "4.7.0", "Too many errors, closing")
						}
						return honestCatchAll(s, c, a, ca)
					}, nil)
				})
			})
		}
	}
}

// TestRefusalOnOneMXAcceptanceOnAnother: a domain with two MX hosts; the
// primary lies (harvest protections, a generic refusal of everyone, 421)
// and the backup is a relay that accepts everyone, honest, or a
// protection. Evidence from one host must not decide for the other.
func TestRefusalOnOneMXAcceptanceOnAnother(t *testing.T) {
	known, addrs := everyThird(12, "mx2.com")
	spare := func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply {
		return spareAccepted(2)(s, c, a, false)
	}
	prim := map[string]domainRule{
		"harvest1": harvestRule(1, connScope, lies["5.1.1"]),
		"harvest3": harvestRule(3, connScope, lies["5.1.1"]),
		"client2":  harvestRule(2, clientScope, lies["5.1.1"]),
		"spare2":   spare,
		"generic":  func(*sharedServer, *testsmtp.Conn, string) testsmtp.Reply { return testsmtp.R(550, "", "Rejected") },
		"421": func(*sharedServer, *testsmtp.Conn, string) testsmtp.Reply {
			return testsmtp.R(421, "4.3.2", "Try later")
		},
	}
	back := map[string]domainRule{
		"relay":  func(*sharedServer, *testsmtp.Conn, string) testsmtp.Reply { return testsmtp.R(250, "2.1.5", "Ok") },
		"honest": (*sharedServer).honestRule,
		"spare2": spare,
	}
	for pn, p := range prim {
		for bn, b := range back {
			t.Run(pn+"/"+bn, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					w := newWorld()
					defer w.router.close()
					ps := newSharedServer(known, map[string]domainRule{"mx2.com": p})
					bs := newSharedServer(known, map[string]domainRule{"mx2.com": b})
					w.addHost("mx2.com", "mx1.mx2.com", 10, ps.srv)
					w.addHost("mx2.com", "mx2.mx2.com", 20, bs.srv)
					v := w.verifier()
					v.PerHostRate = 1000
					paced(v)
					got := verifyAll(t, v, addrs)
					for _, r := range got {
						t.Logf("%s (exists %v): %s/%s catch_all=%v", r.Input, known[r.Input], r.Status, r.Reason, r.CatchAll)
					}
					noWrongVerdict(t, known, got)
					if len(got) != len(addrs) {
						t.Errorf("%d results for %d addresses", len(got), len(addrs))
					}
				})
			})
		}
	}
}

// TestHarvestPerConnectionCatchAll: the plain protection of
// TestHarvestProtectionWith511 (550 5.1.1 to everyone of a connection
// after n unknown recipients), on a server that has a catch-all domain
// beside an honest one. Its refusal of the catch-all domain's canary is
// specific, so it sets catch_all "no" and proves the acceptances before
// it wherever it stood (answer.judges), though no acceptance followed it.
// At ef1e7e2 no wrong verdict comes of it (the protection never accepts
// after it has begun); at 0be01e5 it turned existing mailboxes
// undeliverable.
func TestHarvestPerConnectionCatchAll(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 6} {
		t.Run(fmt.Sprint("n=", n), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				twoDomainCase(t, func(s *sharedServer, c *testsmtp.Conn, a string, catchAll bool) testsmtp.Reply {
					key := fmt.Sprint("unknown", c.Index)
					if s.count[key] >= n {
						return lies["5.1.1"](a)
					}
					if !s.known[a] {
						s.count[key]++
					}
					if catchAll || s.known[a] || strings.HasPrefix(a, "postmaster@") {
						return testsmtp.R(250, "2.1.5", "Ok")
					}
					return lies["5.1.1"](a)
				}, nil)
			})
		})
	}
}
