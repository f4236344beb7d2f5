package verify

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"
)

// The review of the pace's masking and of 0e47955 (hostRun.pairFronts,
// pacer.hold, hostRun.noteFlip). See /work/notes/rev-pace.md. The
// TestReviewPaceFinding... tests fail: each is a wrong definite verdict.

// placeTimes runs o n times and returns the wrong deliverables of each
// world that had any.
func placeTimes(t *testing.T, o placeOpts, n int) (bad int, wrong [][]string) {
	t.Helper()
	for range n {
		synctest.Test(t, func(t *testing.T) {
			if w := placeCase(t, o); len(w) > 0 {
				bad++
				wrong = append(wrong, w)
			}
		})
	}
	return bad, wrong
}

// TestReviewPaceFindingGreylistedPairSmallDomains: the greylisting
// server in front of one that answers by place
// (TestReviewPlaceFindingGreylistedPair's), with six small domains and
// k=3: a nonexistent address ends deliverable, at every rate tried.
//
// Seen in one world (rate 1e9): d.com's first flush is all greylisted
// (the catch-all probe, the pair's second, u0..u2, the canary, the
// control); on the retry the run is a fresh random address (450, not
// counted by the server), the pair's second asked again (550 5.1.1,
// judged at run place 1), u0, u1, u2 (250, let through at places 2..4),
// the catch-all probe asked again (550 5.1.1). No random address is
// accepted, so notePlace has nothing to mark, and the three acceptances
// are proven: u2@d.com (no mailbox) deliverable. It fails at 1431498 too.
func TestReviewPaceFindingGreylistedPairSmallDomains(t *testing.T) {
	t.Skip("OPEN wrong-deliverable finding (19 of 20 worlds, at 1431498 too): remove this skip and run go test -count=1 -run TestReviewPaceFindingGreylistedPairSmallDomains ./verify")
	for _, rate := range []float64{3, 1000, 1e9} {
		t.Run(fmt.Sprint("rate=", rate), func(t *testing.T) {
			o := placeOpts{sizes: placeSizes[1], k: 3, rate: rate, grey: 20 * time.Second}
			if bad, wrong := placeTimes(t, o, 20); bad > 0 {
				t.Errorf("%d of 20 worlds with nonexistent addresses deliverable: %v", bad, wrong)
			}
		})
	}
}
