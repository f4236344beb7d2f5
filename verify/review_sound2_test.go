package verify

import (
	"fmt"
	"hash/fnv"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// capPerConn wraps rule with a cap of n recipients per connection
// (whatever the transaction): past it, 452 4.5.3 "Too many recipients".
// smtpprobe then takes the server for one that judges only the first
// recipients of a connection (Quirks.RcptsPerConnection), where a
// specific refusal of the first counts with no control after it.
func capPerConn(n int, rule domainRule) domainRule {
	return func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply {
		key := fmt.Sprint("conn rcpts", c.Index)
		if s.count[key] >= n {
			return testsmtp.R(452, "4.5.3", "Too many recipients")
		}
		s.count[key]++
		return rule(s, c, a)
	}
}

// TestHarvestPerClientBehindAConnectionCap: a server that caps the
// recipients of a connection (not Exchange: it judges every recipient it
// takes) and has a harvest protection counting unknown recipients per
// client, which then answers 550 5.1.1 to everyone. doc.go states the
// per-client count as assumed only for a server that judges only the
// first recipient of a connection; the cap makes smtpprobe take this one
// for such a server, and the first recipient of each fresh connection is
// refused by the protection and counts. (A cap of 1 would be the
// assumed case itself; the caps here are 2 and 4.)
func TestHarvestPerClientBehindAConnectionCap(t *testing.T) {
	for _, tc := range []struct{ cap, n int }{{2, 2}, {4, 4}} {
		t.Run(fmt.Sprintf("cap=%d/n=%d", tc.cap, tc.n), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var s *sharedServer
				canaryCase(t, "liar.com", capPerConn(tc.cap, harvestRule(tc.n, clientScope, lies["5.1.1"])),
					func(ss *sharedServer, _ *Verifier) { s = ss })
				if s.count["lied"] == 0 {
					t.Errorf("the protection told no existing mailbox a lie: the attack did not happen")
				}
			})
		})
	}
}

// TestHarvestSparesAcceptedWithoutPipelining: spareAccepted on a server
// that does not advertise PIPELINING, where a specific refusal counts
// with an acceptance of the domain anywhere later in its transaction.
// At a pace that never waits (rate 1e9) the fronts and probes of all.com
// (catch-all) came only in the spell, refused, and the acceptances it
// spared, asked again between them, were proven: u2@all.com deliverable
// in 1 run of 3 (hostRun.noteFlip). At 1000 a second, waits for the pace
// had kept the probe from being compared with them.
func TestHarvestSparesAcceptedWithoutPipelining(t *testing.T) {
	for _, rate := range []float64{1000, 1e9} {
		for _, n := range []int{1, 2, 3} {
			t.Run(fmt.Sprint("rate=", rate, "/n=", n), func(t *testing.T) {
				for range 5 { // the order of the domains varies
					synctest.Test(t, func(t *testing.T) {
						twoDomainCase(t, spareAccepted(n), func(s *sharedServer, v *Verifier) {
							s.srv.Extensions = []string{"8BITMIME", "SIZE 10240000"}
							v.PerHostRate = rate
							paced(v)
						})
					})
				}
			})
		}
	}
}

// poisonRule is rev-sound's list-poisoning server (TestListPoisoning in
// /work/notes/rev-sound.md): it accepts each existing mailbox, and an
// address with no mailbox one time in per (by a hash of the address and
// a count of the RCPTs), 550 5.1.1 the others.
func poisonRule(per int) domainRule {
	return func(s *sharedServer, _ *testsmtp.Conn, a string) testsmtp.Reply {
		if s.known[a] || strings.HasPrefix(a, "postmaster@") {
			return testsmtp.R(250, "2.1.5", "Ok")
		}
		s.count["n"]++
		h := fnv.New32a()
		fmt.Fprint(h, a, s.count["n"])
		if h.Sum32()%uint32(per) == 0 {
			return testsmtp.R(250, "2.1.5", "Ok")
		}
		return lies["5.1.1"](a)
	}
}

// TestListPoisoningAfterTheContradiction: on the list-poisoning server,
// once the host has both refused and accepted random addresses of the
// domain (the first soft_limited or catch_all result shows it), no
// acceptance of the domain is proven: no result after that one is
// deliverable. Those before it stand (doc.go: what stays assumed).
func TestListPoisoningAfterTheContradiction(t *testing.T) {
	for _, per := range []int{2, 3, 4} {
		for round := range 3 {
			t.Run(fmt.Sprint("one in ", per, "/", round), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					known, addrs := everyThird(120, "poison.com")
					w, _ := reviewWorld(t, known, map[string]domainRule{"poison.com": poisonRule(per)})
					v := w.verifier()
					v.PerHostRate = 1000
					paced(v)
					seen := false
					for _, r := range v.VerifySeq(t.Context(), slicesAll(addrs)) {
						if seen && r.Status == Deliverable {
							t.Errorf("%s (exists %v): deliverable after the host contradicted itself", r.Input, known[r.Input])
						}
						seen = seen || r.Reason == ReasonSoftLimited || r.Reason == ReasonCatchAll
					}
				})
			})
		}
	}
}
