package verify

import "slices"

// A slotWait is a worker waiting for one of the engine's session slots.
type slotWait struct {
	q     *hostQueue
	ready chan struct{} // closed when a slot is handed over
}

// acquireSlot takes one of the Concurrency session slots for a worker of
// q, waiting while none is free. Waiters are served longest queue first,
// not in arrival order: the server with the most work left bounds the
// run's wall time, so it gets its PerHost sessions before the many small
// servers do (the longest-processing-time rule). It reports false when
// the context ended first.
func (e *engine) acquireSlot(q *hostQueue) bool {
	e.mu.Lock()
	if e.freeSlots > 0 {
		e.freeSlots--
		e.mu.Unlock()
		return true
	}
	w := &slotWait{q: q, ready: make(chan struct{})}
	e.slotWaits = append(e.slotWaits, w)
	e.mu.Unlock()
	select {
	case <-w.ready:
		return true
	case <-e.ctx.Done():
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if i := slices.Index(e.slotWaits, w); i >= 0 {
		e.slotWaits = slices.Delete(e.slotWaits, i, i+1)
		return false
	}
	return true // handed over meanwhile: the caller releases it
}

// releaseSlot frees a session slot: it goes to the waiter whose queue is
// longest, the first of them on a tie. The scan is linear; waiters are at
// most PerHost per mail server with work.
func (e *engine) releaseSlot() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.slotWaits) == 0 {
		e.freeSlots++
		return
	}
	best := 0
	for i, w := range e.slotWaits {
		if len(w.q.jobs) > len(e.slotWaits[best].q.jobs) {
			best = i
		}
	}
	w := e.slotWaits[best]
	e.slotWaits = slices.Delete(e.slotWaits, best, best+1)
	close(w.ready)
}
