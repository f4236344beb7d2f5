package verify

import (
	"context"
	"testing"
	"time"
)

// TestPacerCountsBudgetWaits: a wait for the egress's budget is a wait
// like the server's pace. A refusal after it proves no acceptance before
// it (asking.go compares the counts), so an uncounted budget wait would
// let a server that accepts everyone while we are fast, and answers
// honestly once we slow down, make nonexistent mailboxes deliverable.
func TestPacerCountsBudgetWaits(t *testing.T) {
	v := &Verifier{PerHostRate: 1000}
	pc := &pacer{lim: v.newServerLimit()}
	ctx := context.Background()
	if err := pc.pace(ctx, 1); err != nil || pc.count() != 0 {
		t.Fatalf("a flush the bucket covers: err %v, %d waits; want none", err, pc.count())
	}
	pc.budget = func(context.Context, int) error { time.Sleep(5 * time.Millisecond); return nil }
	if err := pc.pace(ctx, 1); err != nil || pc.count() != 1 {
		t.Fatalf("a flush that waited for the egress budget: err %v, %d waits; want 1", err, pc.count())
	}
}
