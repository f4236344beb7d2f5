package verify

import (
	"fmt"
	"testing"
)

// TestReviewGroupBlindAfterFront (rev-group's F1, a wrong definite verdict
// older than the grouping): a server that judges the first recipient of
// each domain's run in a transaction and accepts the next k blindly (a
// front end that looks up a domain's first recipient and passes the rest
// while that answer is fresh). Every flush put the domain's random front
// at run place 1 (refused, honestly) and its first list addresses at
// 2..k+1; the canary after them was refused, honestly, and read as proof
// of the acceptances before it, so nonexistent addresses there ended
// deliverable (99 wrong verdicts in -count=5 at 6b59621, 111 at 3920eda).
// Now each domain's flushes carry a front pair until one decides, and a
// random address accepted between two refused in one flush marks the
// server as answering by place (positional.go). With only="mid.com" the
// server lies on one domain, first met after it was seen to refuse naming
// the reason (so no catch-all probe goes alone before its batch): only
// mid.com's own pair shows it. (placeServer, review_place_test.go,
// generalises the server.)
func TestReviewGroupBlindAfterFront(t *testing.T) {
	for _, only := range []string{"", "mid.com"} {
		for _, k := range []int{1, 2, 3} {
			for _, rate := range []float64{3, 1000} {
				runPlace(t, fmt.Sprintf("only=%q,k=%d,rate=%v", only, k, rate),
					placeOpts{sizes: groupSizes, only: only, k: k, rate: rate})
			}
		}
	}
}
