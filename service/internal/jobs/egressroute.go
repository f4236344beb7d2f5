package jobs

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/mailverify/mailverify/verify"
	"github.com/nats-io/nats.go/jetstream"
)

// startRouting declares the worker's egresses to the cluster and starts
// following the cluster's egress health, until ctx ends: from then on the
// worker takes a provider's partitions only while one of its egresses may
// serve that provider, or while no running worker's may (see routing).
func (w *Worker) startRouting(ctx context.Context) (stop func(), err error) {
	store, err := w.Bus.NewEgressStore(ctx)
	if err != nil {
		return nil, err
	}
	kv, err := w.Bus.workersKV(ctx)
	if err != nil {
		return nil, err
	}
	w.route = newRouting(declarationFor(w.Verifier.Egresses))
	w.health = store
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	go func() {
		w.route.watch(ctx, store.kv, kv)
		done <- struct{}{}
	}()
	go func() {
		w.declare(ctx, kv)
		done <- struct{}{}
	}()
	select { // the first decisions are made on what the cluster knows
	case <-w.route.ready:
	case <-time.After(5 * time.Second):
	case <-ctx.Done():
	}
	return func() {
		cancel()
		<-done
		<-done
		dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = kv.Delete(dctx, w.route.self.ID)
		dcancel()
	}, nil
}

// declare renews the worker's declaration every declareEvery, with the
// providers it leaves to others now, until ctx ends.
func (w *Worker) declare(ctx context.Context, kv jetstream.KeyValue) {
	put := func() {
		d := w.route.self
		d.Avoids = w.route.avoids(w.pumped(), time.Now())
		if err := declare(ctx, kv, d); err != nil && ctx.Err() == nil {
			logOrDiscard(w.Logger).Warn("worker: declare", "err", err)
		}
	}
	put()
	repeat(ctx, declareEvery, put)
}

// pumped lists the providers whose partitions exist.
func (w *Worker) pumped() []string {
	if w.pump == nil {
		return nil
	}
	w.pump.mu.Lock()
	defer w.pump.mu.Unlock()
	return providersOf(w.pump.known)
}

// providerOfSubject returns the provider of a task from its subject
// (mv.work.<provider>.<slot>), "" for a numbered partition.
func providerOfSubject(s string) string {
	rest, ok := strings.CutPrefix(s, "mv.work.")
	if !ok {
		return ""
	}
	p, _, ok := strings.Cut(rest, ".")
	if !ok {
		return ""
	}
	return p
}

// moveDelay is how long a task sent on to another worker waits: until
// this worker has left the partition and the other holds it. The pump
// leaves it within a second and unpins it at once (reroute), so the
// first time a task is sent on it waits moveSoon; should it come back
// here all the same (the unpin failed, and the pin lasts its PinnedTTL),
// it waits PinnedTTL and a second. A return costs one delivery of its
// MaxDeliver.
func (w *Worker) moveDelay(md *jetstream.MsgMetadata) time.Duration {
	if w.route.sentOnce(md.Sequence.Stream) {
		return min(moveSoon, w.Bus.pinnedTTL()+time.Second)
	}
	return w.Bus.pinnedTTL() + time.Second
}

const moveSoon = 2 * time.Second

// sentOnce tells whether the task at stream sequence seq is sent on for
// the first time, and remembers it.
func (r *routing) sentOnce(seq uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sent == nil || len(r.sent) > 10000 {
		r.sent = map[uint64]bool{}
	}
	first := !r.sent[seq]
	r.sent[seq] = true
	return first
}

// budgetEnd is when a task queued at t has waited all it may: past it a
// task waiting for an egress (or a greylisting retry) ends.
func (w *Worker) budgetEnd(t time.Time) time.Time {
	return t.Add(orDefault(w.GreylistBudget, 30*time.Minute))
}

// detour sends a task back, before the engine sees it, when no egress of
// this worker may serve its provider now: on to a worker that has one
// (after moveDelay), or, when none has, to wait (see wait). It returns
// false when the task is to be verified here: its provider is served,
// it is on its last delivery, or its budget is spent (the engine then
// ends it unknown/blocked with retry_after, never a verdict on the
// mailbox, unless an egress came back meanwhile).
func (w *Worker) detour(m jetstream.Msg, t task) bool {
	p := providerOfSubject(m.Subject())
	if p == "" || w.route == nil {
		return false
	}
	d := w.route.decide(p, time.Now())
	if d.Mine {
		return false
	}
	md, err := m.Metadata()
	if err != nil || md.NumDelivered >= uint64(w.Bus.maxDeliver()) {
		return false
	}
	if d.Others {
		_ = m.NakWithDelay(w.moveDelay(md))
		return true
	}
	return w.wait(m, d.Comeback, queuedAt(t, md))
}

// queuedAt is when t was first queued: its message's time, or before it
// was moved (task.Queued).
func queuedAt(t task, md *jetstream.MsgMetadata) time.Time {
	if !t.Queued.IsZero() && t.Queued.Before(md.Timestamp) {
		return t.Queued
	}
	return md.Timestamp
}

// wait sends back a task that no running worker can carry now, to come
// again when the first egress for its provider comes back, at the end of
// its budget, or after a sixth of the budget, whichever is first (so
// that a worker started meanwhile with a healthy egress gets it soon).
// Past its budget it returns false: the task ends.
func (w *Worker) wait(m jetstream.Msg, comeback, queued time.Time) bool {
	now := time.Now()
	end := w.budgetEnd(queued)
	if !now.Before(end) {
		return false
	}
	next := now.Add(orDefault(w.GreylistBudget, 30*time.Minute) / 6)
	if end.Before(next) {
		next = end
	}
	if !comeback.IsZero() && comeback.Before(next) {
		next = comeback
	}
	_ = m.NakWithDelay(max(next.Sub(now), time.Second))
	return true
}

// waitsForEgress are the verdicts about the way out, not the mailbox: no
// egress could carry the address (blocked), its budget was spent
// (rate_limited), or its server started accepting everyone from it
// (soft_limited).
var waitsForEgress = []verify.Reason{verify.ReasonBlocked, verify.ReasonRateLimited, verify.ReasonSoftLimited}

// park sends back a task of a provider's partition whose result says
// its egress could not carry it, while the task may still wait: on to a
// worker with a healthy egress for the provider, or, when none has one,
// as wait does; when another egress of this worker may carry it, it is
// asked again at once, and when its budget was spent, at the refill
// (retry_after), within the task's budget. A task of an unidentified
// server (a numbered partition) is moved to the server's own partition
// when another worker has an egress for it (moveServer). It returns
// false when the result is to be stored.
func (w *Worker) park(h held, md *jetstream.MsgMetadata, r verify.Result) bool {
	p := providerOfSubject(h.m.Subject())
	if w.route == nil || r.Status != verify.Unknown || !slices.Contains(waitsForEgress, r.Reason) {
		return false
	}
	if p == "" { // an unidentified server's, on a numbered partition
		return w.moveServer(context.Background(), h, queuedAt(h.t, md), r) // serverroute.go
	}
	if md.NumDelivered >= uint64(w.Bus.maxDeliver()) {
		return false
	}
	w.route.refresh(w.health, w.route.keyOf(p)) // the engine's report may not have been watched yet
	now := time.Now()
	d := w.route.decide(p, now)
	switch {
	case d.Mine:
		// Another egress of this worker may carry it (asked again in a
		// second), or its budget refills (asked again then). A result
		// without retry_after is about no egress: it stands.
		delay := time.Second
		if r.Reason == verify.ReasonRateLimited {
			delay = max(time.Duration(r.RetryAfter), time.Second)
		}
		if r.RetryAfter == 0 || now.Add(delay).After(w.budgetEnd(queuedAt(h.t, md))) {
			return false
		}
		_ = h.m.NakWithDelay(delay)
		return true
	case d.Others:
		_ = h.m.NakWithDelay(w.moveDelay(md))
		return true
	}
	return w.wait(h.m, d.Comeback, queuedAt(h.t, md))
}
