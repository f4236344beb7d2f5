package verify

import (
	"context"
	"testing"
	"testing/synctest"
)

// TestSlotsGoToTheLongestQueue: a freed session slot goes to the waiting
// worker whose server has the most work queued, not to the first to ask;
// a waiter whose context ends gets none and leaves the line.
func TestSlotsGoToTheLongestQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		e := &engine{ctx: ctx, freeSlots: 1}
		queue := func(n int) *hostQueue { return &hostQueue{jobs: make([]*job, n)} }
		if !e.acquireSlot(queue(1)) {
			t.Fatal("no slot while one was free")
		}
		got := map[string]chan bool{"small": make(chan bool, 1), "big": make(chan bool, 1)}
		go func() { got["small"] <- e.acquireSlot(queue(1)) }() // first in line
		synctest.Wait()
		go func() { got["big"] <- e.acquireSlot(queue(50)) }()
		synctest.Wait()
		e.releaseSlot()
		synctest.Wait()
		select {
		case ok := <-got["big"]:
			if !ok {
				t.Error("the longest queue's worker got false")
			}
		default:
			t.Fatal("the freed slot did not go to the longest queue")
		}
		if len(got["small"]) != 0 {
			t.Fatal("two workers hold the one slot")
		}
		cancel()
		synctest.Wait()
		if ok := <-got["small"]; ok {
			t.Error("a waiter whose context ended got a slot")
		}
		if len(e.slotWaits) != 0 || e.freeSlots != 0 {
			t.Errorf("%d waiters and %d free slots left; want none", len(e.slotWaits), e.freeSlots)
		}
		e.releaseSlot()
		if e.freeSlots != 1 {
			t.Errorf("%d free slots after the last release, want 1", e.freeSlots)
		}
	})
}
