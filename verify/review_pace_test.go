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
// (TestReviewPlaceFindingGreylistedPair's: 450 to each new recipient for
// 20 s, a greylisted RCPT not counted in a run), where a domain has no
// more addresses than the k places it lets through: k=3 with six small
// domains, and one domain of four with k=4 (deterministic). A nonexistent
// address ends deliverable at every rate tried, and at 1431498 too.
//
// The one-domain world (rate 1e9): the first flush is all greylisted
// (catch-all probe, the pair's second, u0..u3, canary, control). The
// retry's run: a fresh random address (450 again: new to the server, not
// counted in its run), the pair's second asked again (550 5.1.1, judged
// at run place 1), u0..u3 (250, let through at places 2..5), the
// catch-all probe asked again (550 5.1.1), postmaster (550). No random
// address is accepted, so notePlace has nothing to mark; the acceptances
// stand behind two random addresses of which one was greylisted, and
// judged() counts a greylisting as judging (pairFronts reads it so, where
// decidePairs calls the run deferred and decides nothing).
func TestReviewPaceFindingGreylistedPairSmallDomains(t *testing.T) {
	t.Skip("OPEN wrong-deliverable finding (one-domain subtests 20 of 20 worlds, six domains 18-20 of 20, at 1431498 too): remove this skip and run go test -count=1 -run TestReviewPaceFindingGreylistedPairSmallDomains ./verify")
	for _, rate := range []float64{3, 1000, 1e9} {
		t.Run(fmt.Sprint("rate=", rate), func(t *testing.T) {
			o := placeOpts{sizes: placeSizes[1], k: 3, rate: rate, grey: 20 * time.Second}
			if bad, wrong := placeTimes(t, o, 20); bad > 0 {
				t.Errorf("%d of 20 worlds with nonexistent addresses deliverable: %v", bad, wrong)
			}
		})
	}
	// One domain of four (u2 does not exist), k=4, several sessions.
	for _, perHost := range []int{1, 4} {
		t.Run(fmt.Sprint("one-domain,perHost=", perHost), func(t *testing.T) {
			o := placeOpts{sizes: map[string]int{"d0.com": 4}, k: 4, rate: 1e9, maxRcpts: 10, perHost: perHost, grey: 20 * time.Second}
			if bad, wrong := placeTimes(t, o, 20); bad > 0 {
				t.Errorf("%d of 20 worlds with nonexistent addresses deliverable: %v", bad, wrong)
			}
		})
	}
}
