package verify

import (
	"container/heap"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/mailverify/mailverify/smtpprobe"
)

// Every job ends by its deadline, wherever it waits: in a server's queue
// (rerouted jobs join the tail of their next host's), in flight on a
// session that serves later jobs too, parked for a greylisting retry, or
// answered and waiting for the catch-all evidence (a probe greylisted, a
// trailing probe). The engine keeps the jobs that have a deadline in a
// heap and one timer for the earliest; when it fires, each job past its
// deadline gets the verdict of what is known by then.

// Where a job is.
const (
	atNone    = iota // not in the engine's hands yet, or gone
	atQueue          // in a hostQueue's jobs
	atFlight         // taken for a batch
	atParked         // in its hostRun's parked jobs
	atDecided        // in its hostRun's decided jobs
)

// deadlines is a min-heap of jobs by deadline.
type deadlines []*job

func (h deadlines) Len() int           { return len(h) }
func (h deadlines) Less(i, k int) bool { return h[i].deadline.Before(h[k].deadline) }
func (h deadlines) Swap(i, k int) {
	h[i], h[k] = h[k], h[i]
	h[i].dlIndex, h[k].dlIndex = i, k
}
func (h *deadlines) Push(x any) {
	j := x.(*job)
	j.dlIndex = len(*h)
	*h = append(*h, j)
}
func (h *deadlines) Pop() any {
	old := *h
	j := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	j.dlIndex = -1
	return j
}

// unwatch drops a job that is gone from the heap. e.mu is held.
func (e *engine) unwatch(j *job) {
	if j.dlIndex >= 0 && j.dlIndex < len(e.dl) && e.dl[j.dlIndex] == j {
		heap.Remove(&e.dl, j.dlIndex)
	}
	if len(e.dl) == 0 {
		e.stopDeadlines()
	}
}

// errDeadline is the error of a job that reached its deadline (Timeout)
// before an answer.
var errDeadline = fmt.Errorf("verify: the address's time budget (Timeout) ended: %w", context.DeadlineExceeded)

// setDeadline gives j its deadline, Timeout from since less the time
// its DNS lookup took (waiting for a turn does not count), and watches
// it. e.mu is held.
func (e *engine) setDeadline(j *job, since time.Time) {
	if !j.deadline.IsZero() || e.v.Timeout <= 0 {
		return
	}
	j.deadline = since.Add(e.v.Timeout - j.dnsTook)
	heap.Push(&e.dl, j)
	if e.dlTimer == nil || j.deadline.Before(e.dlAt) {
		e.armDeadline(j.deadline)
	}
}

// armDeadline sets the timer for at. e.mu is held.
func (e *engine) armDeadline(at time.Time) {
	if e.dlTimer != nil && e.dlTimer.Stop() {
		e.wg.Done()
	}
	e.dlAt = at
	e.dlGen++
	gen := e.dlGen
	e.wg.Add(1)
	e.dlTimer = time.AfterFunc(time.Until(at), func() { e.expire(gen) })
}

// stopDeadlines stops the timer. e.mu is held.
func (e *engine) stopDeadlines() {
	if e.dlTimer != nil && e.dlTimer.Stop() {
		e.wg.Done()
	}
	e.dlTimer = nil
	e.dl = nil
}

// expire ends the jobs past their deadline and sets the timer for the
// next.
func (e *engine) expire(gen uint64) {
	defer e.wg.Done()
	e.mu.Lock()
	if gen != e.dlGen || e.dlTimer == nil { // replaced or stopped meanwhile
		e.mu.Unlock()
		return
	}
	e.dlTimer = nil
	now := time.Now()
	var out []*job
	for len(e.dl) > 0 && !e.dl[0].deadline.After(now) {
		j := heap.Pop(&e.dl).(*job)
		out = append(out, e.endJob(j)...)
	}
	if len(e.dl) > 0 && !e.finished {
		e.armDeadline(e.dl[0].deadline)
	}
	out = append(out, e.takePendingSends()...)
	e.mu.Unlock()
	e.sendAll(out)
}

// endJob gives j, past its deadline, the verdict of what is known now,
// and returns what to send. e.mu is held.
func (e *engine) endJob(j *job) []*job {
	hr := j.run
	switch j.at {
	case atQueue:
		q := e.queues[hr.key]
		if q != nil {
			q.jobs = slices.DeleteFunc(q.jobs, func(x *job) bool { return x == j })
		}
		hr.pending--
		j.out = e.expiredQueued(j, q) // egresswait.go
	case atFlight:
		// The session goes on for the batch's other jobs; file skips
		// this one's answer.
		j.expired = true
		hr.pending--
		j.out = expired(j)
	case atParked:
		hr.parked = slices.DeleteFunc(hr.parked, func(x *job) bool { return x == j })
		hr.pending--
		if hr.sched != nil {
			j.res.RetryAfter = Seconds(hr.sched.retryAfter(time.Now()))
		}
	case atDecided:
		hr.decided = slices.DeleteFunc(hr.decided, func(x *job) bool { return x == j })
	default:
		return nil
	}
	// The rest of the host's jobs first: emitting j may end its domain,
	// which stops the timers afterBatch could set.
	out := hr.afterBatch()
	return append(out, hr.emit(j))
}

// expired is the result of a job whose deadline passed before an answer:
// a timeout, or, where an MX host of its domain was not tried because no
// egress could reach it (hostRun.unreached), that failure (unknown/blocked
// or rate_limited, with retry_after): its wait for an egress, not a
// server, used up the time. A cluster moves or parks such an address; a
// timeout it stores as the answer.
func expired(j *job) *smtpprobe.Result {
	if j.eg.unreached != nil {
		j.host = j.eg.unreachedHost
		return j.eg.unreached
	}
	return &smtpprobe.Result{Address: j.wire, Outcome: smtpprobe.Timeout, Err: errDeadline}
}
