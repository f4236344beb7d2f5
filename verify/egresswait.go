package verify

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/smtpprobe"
)

// A leaseWait is a worker's wait for an egress lease to open a session
// for its host queue: every egress allowed for the provider is backed
// off or spent (lease polls the router). While it lasts, an address in
// the queue whose deadline passes ran out of time waiting for an egress,
// not at a server: it ends with the router's refusal (unknown/rate_limited
// or blocked, with retry_after), which a cluster parks or moves, rather
// than unknown/timeout, which it stores as the answer. These are
// addresses that were taken before (asked through an egress that a reply
// then showed throttled or blocked, or a vague refusal to ask again) and
// went back to the queue: a job has no deadline until it is first taken.
type leaseWait struct {
	ue    atomic.Pointer[egress.UnavailableError] // the latest refusal
	ended atomic.Int64                            // when the wait ended without a lease (UnixNano); 0 while it lasts
}

// leaseWaitGrace is how long a wait that ended without a lease still
// speaks for the queue's addresses: the worker files the refusal for the
// batch it takes just after, and an address whose deadline passes in
// between ended waiting all the same.
const leaseWaitGrace = time.Second

// current is the refusal w stands for at now; nil once it is stale.
func (w *leaseWait) current(now time.Time) *egress.UnavailableError {
	if end := w.ended.Load(); end != 0 && now.Sub(time.Unix(0, end)) > leaseWaitGrace {
		return nil
	}
	return w.ue.Load()
}

type leaseWaitKey struct{}

// withLeaseWait marks ctx as the opening of a session for q, so that the
// wait for its egress lease is noted for q's addresses (see leaseWait).
func withLeaseWait(ctx context.Context, q *hostQueue) context.Context {
	return context.WithValue(ctx, leaseWaitKey{}, q)
}

// noteWait records ue as the refusal that the wait for ctx's queue is
// waiting out; w is the wait's note so far (nil at the first refusal),
// and the note is returned. Stale notes of other queues go.
func (v *Verifier) noteWait(ctx context.Context, w *leaseWait, ue *egress.UnavailableError) *leaseWait {
	q, _ := ctx.Value(leaseWaitKey{}).(*hostQueue)
	if q == nil {
		return nil
	}
	if w == nil {
		w = &leaseWait{}
		now := time.Now()
		v.eg.waits.Range(func(k, x any) bool {
			if x.(*leaseWait).current(now) == nil {
				v.eg.waits.CompareAndDelete(k, x)
			}
			return true
		})
	}
	w.ue.Store(ue)
	v.eg.waits.Store(q, w)
	return w
}

// endWait ends the wait noted in w: without a lease its note stands for
// leaseWaitGrace; with one, the queue's note goes at once, whichever wait
// left it (an earlier wait's, still in its grace, would end the queue's
// addresses with a refusal no worker is waiting out).
func (v *Verifier) endWait(ctx context.Context, w *leaseWait, leased bool) {
	if leased {
		if q, _ := ctx.Value(leaseWaitKey{}).(*hostQueue); q != nil {
			v.eg.waits.Delete(q)
		}
		return
	}
	if w != nil {
		w.ended.Store(time.Now().UnixNano())
	}
}

// expiredQueued is the result of j, waiting in q (nil: gone) when its
// deadline passed: the refusal a worker of q is waiting out for an egress
// lease (see leaseWait), else as expired. e.mu is held.
func (e *engine) expiredQueued(j *job, q *hostQueue) *smtpprobe.Result {
	if j.eg.unreached != nil || q == nil {
		return expired(j)
	}
	x, ok := e.v.eg.waits.Load(q)
	if !ok {
		return expired(j)
	}
	ue := x.(*leaseWait).current(time.Now())
	if ue == nil {
		return expired(j)
	}
	j.host = j.run.host.Name
	return &smtpprobe.Result{Address: j.wire, Outcome: smtpprobe.OutcomeOf(ue), Err: ue}
}
