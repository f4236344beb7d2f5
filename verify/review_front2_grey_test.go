package verify

import (
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// The liveness half of the review of 51f5810 (rev-front2): held fronts
// at honest greylisting hosts.

// greyRun is the tally of one run of greyCase.
type greyRun struct {
	deliverable, undeliverable int
	took                       time.Duration
	most                       int // RCPTs of the list's address asked most
	statuses                   map[string]int
}

// greyCase verifies u0..u11@gq.com (every third one has no mailbox, 8
// exist) at a server whose rule is rule, with Verifier.Timeout timeout
// (0: none), and fails on a wrong definite verdict, a result later than
// the timeout and a lost result.
func greyCase(t *testing.T, rule domainRule, noPipe bool, timeout time.Duration) greyRun {
	known, addrs := everyThird(12, "gq.com")
	w, s := reviewWorld(t, known, map[string]domainRule{"gq.com": rule})
	s.srv.Latency = 10 * time.Millisecond
	if noPipe {
		s.srv.Extensions = []string{"8BITMIME", "SIZE 10240000"}
	}
	count := map[string]int{}
	inner := s.srv.Handlers["RCPT"]
	s.srv.Handlers["RCPT"] = func(c *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
		s.mu.Lock()
		count[rcptAddress(cmd.Arg)]++
		s.mu.Unlock()
		return inner(c, cmd)
	}
	v := w.verifier()
	v.PerHostRate, v.GreylistMaxWait, v.Timeout = 1000, 6*time.Minute, timeout
	paced(v)
	g := greyRun{statuses: map[string]int{}}
	start, n := time.Now(), 0
	for _, r := range v.VerifyAll(t.Context(), addrs) {
		n++
		g.statuses[fmt.Sprintf("%s/%s", r.Status, r.Reason)]++
		g.deliverable += boolInt(r.Status == Deliverable)
		g.undeliverable += boolInt(r.Status == Undeliverable)
		if r.Status == Deliverable && !known[r.Input] || r.Status == Undeliverable && known[r.Input] {
			t.Errorf("%s (exists %v): %s/%s", r.Input, known[r.Input], r.Status, r.Reason)
		}
		if timeout > 0 && time.Since(start) > timeout+time.Second {
			t.Errorf("%s: its result came %v in, past the timeout %v", r.Input, time.Since(start), timeout)
		}
	}
	if n != len(addrs) {
		t.Errorf("%d results for %d addresses", n, len(addrs))
	}
	g.took = time.Since(start)
	s.mu.Lock()
	for _, a := range addrs {
		g.most = max(g.most, count[a])
	}
	s.mu.Unlock()
	return g
}

// greylistAll greylists every address, postmaster@ too, for 20 s after
// its first RCPT, then answers honestly (postgrey's triplets, the sender
// fixed).
func greylistAll(s *sharedServer, _ *testsmtp.Conn, a string) testsmtp.Reply {
	if time.Since(s.first[a]) < 20*time.Second {
		return testsmtp.R(450, "4.2.0", "<"+a+">: Recipient address rejected: Greylisted")
	}
	return s.honest(a)
}

// TestReviewFront2FindingGreyDeadline (liveness: deliverables lost vs
// 7dfca3d; with PIPELINING fixed, without it OPEN: fixed at fd65056
// (8 of 8 in 30 of 30 runs), lost again when answers asked again came
// to speak only for addresses first asked in their flush (see the
// skip); the table below is of 51f5810): an honest server that greylists each address for
// 20 s. An acceptance behind a deferred front waits, parked, for a held
// front to come due (hostRun.parkForFronts), a whole greylisting wait
// (60 s, GreylistDelay) after the front was first deferred, and each
// retry's fresh front is deferred again; so a greylisted address is
// proven a wait or more later than at 7dfca3d, and a Verifier.Timeout
// that 7dfca3d's retry fit in now ends it unknown/cannot_verify.
// Existing addresses deliverable (of 8), here/at 7dfca3d (100 s to 160
// s: 6 runs each, the same in all but *: 5/8 in 4 runs, 8/8 in 2; 75 s,
// 200 s and none: one run):
//
//	Timeout         75s   100s  130s  160s  200s  none
//	PIPELINING      7/8   7/8   8/8   8/8   8/8   8/8
//	no PIPELINING   3/3   3/8   5/8   5/8*  8/8   8/8
//
// The run without a Timeout takes 2m0s (1m0s at 7dfca3d) with
// PIPELINING, 4m0s (3m0s) without; without PIPELINING 2 of the 4
// nonexistent addresses end unknown/blocked ("the refusal may be a
// harvest protection's") where 7dfca3d says undeliverable for all 4.
// No wrong verdict, no late result either way. go test -count=1 -run
// TestReviewFront2FindingGreyDeadline -v
// ./verify
func TestReviewFront2FindingGreyDeadline(t *testing.T) {
	for _, noPipe := range []bool{false, true} {
		for _, to := range []time.Duration{100 * time.Second, 130 * time.Second, 160 * time.Second} {
			t.Run(fmt.Sprintf("noPipe=%v,timeout=%v", noPipe, to), func(t *testing.T) {
				if noPipe {
					t.Skip("OPEN (cost): without PIPELINING 1 of 8 existing addresses deliverable in every run here (7 or 8 of 8 at 9efb417): the retry's acceptances need a refusal after them from a random address deferred in their first flush (answer.frontsFor), and without PIPELINING none goes after them there. Reproduce: remove this skip, go test -count=1 -run TestReviewFront2FindingGreyDeadline -v ./verify")
				}
				synctest.Test(t, func(t *testing.T) {
					g := greyCase(t, greylistAll, noPipe, to)
					t.Logf("took %v: %v", g.took, g.statuses)
					if g.deliverable < 8 {
						t.Errorf("%d of 8 existing addresses deliverable (8 at 7dfca3d)", g.deliverable)
					}
				})
			})
		}
	}
}

// TestReviewFront2DeferUnknownGuard (a guard, green here and at
// 7dfca3d): a server that defers every address it has no mailbox for,
// forever (450 4.2.0), and accepts the others: every random address is
// deferred, so held fronts are deferred again until dropped, and every
// acceptance waits for a held front in vain. No wrong verdict (existing
// addresses end unknown/cannot_verify, the others unknown/greylisted),
// every result by its Timeout, none lost, and no address of the list is
// asked more than 4 times (at most 4 here, with or without PIPELINING
// and Timeout; 4 at 7dfca3d). Seen, not bounded: the undecided front
// pair, asked again as it was in each flush, is asked 15 and 18 times
// without PIPELINING and no Timeout (6 and 9 at 7dfca3d), several times
// within a second at each retry.
func TestReviewFront2DeferUnknownGuard(t *testing.T) {
	deferUnknown := func(s *sharedServer, _ *testsmtp.Conn, a string) testsmtp.Reply {
		if s.known[a] || strings.HasPrefix(a, "postmaster@") {
			return testsmtp.R(250, "2.1.5", "Ok")
		}
		return testsmtp.R(450, "4.2.0", "<"+a+">: Recipient address rejected: Greylisted")
	}
	for _, noPipe := range []bool{false, true} {
		for _, to := range []time.Duration{0, 30 * time.Second, 90 * time.Second} {
			t.Run(fmt.Sprintf("noPipe=%v,timeout=%v", noPipe, to), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					g := greyCase(t, deferUnknown, noPipe, to)
					if g.most > 4 {
						t.Errorf("an address of the list asked %d times", g.most)
					}
					if g.deliverable+g.undeliverable > 0 {
						t.Errorf("definite verdicts at a server that never judges: %v", g.statuses)
					}
				})
			})
		}
	}
}
