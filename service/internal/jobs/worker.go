package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/mailverify/mailverify/verify"
	"github.com/nats-io/nats.go/jetstream"
)

// A Worker owns partitions: the bus pins each partition to one worker at
// a time, so one worker's Verifier holds the sessions and per-host limits
// of each mail server for the whole cluster. Run one per egress address.
type Worker struct {
	Bus *Bus
	// Verifier verifies. Give it a tiny GreylistMaxWait (a nanosecond): a
	// greylisted address goes back to the bus to wait, holding nothing.
	Verifier *verify.Verifier
	Logger   *slog.Logger
	// GreylistBudget is how long after a task was queued a greylisted
	// address is still retried, and an address that no running worker's
	// egress can carry waits (see detour); zero means 30 minutes.
	GreylistBudget time.Duration
	// Drain is how long in-flight work may go on after ctx ends; zero
	// means 10 seconds. What is unfinished then goes back to the bus.
	Drain time.Duration
	// OnResult, when set, sees each result this worker stored.
	OnResult func(verify.Result)

	stores chan stored
	route  *routing     // the cluster's egresses, as this worker sees them
	health *EgressStore // the cluster's egress health
	pump   *pump

	mu     sync.Mutex
	held   map[int]held // by position in the engine's input
	states map[string]jobState
	grey   greyWaits // greywait.go
}

type held struct {
	m jetstream.Msg
	t task
}

type jobState struct {
	canceled bool
	at       time.Time
}

// Run works until ctx ends, then drains.
func (w *Worker) Run(ctx context.Context) error {
	w.held, w.states = map[int]held{}, map[string]jobState{}
	in := make(chan jetstream.Msg)
	p := &pump{w: w, in: in}
	w.pump = p                              // before the declarations, which read it
	stopRouting, err := w.startRouting(ctx) // egressroute.go
	if err != nil {
		return err
	}
	defer stopRouting()
	p.list(ctx)
	if err := p.start(ctx); err != nil {
		p.close()
		return err
	}
	defer p.close()
	go p.run(ctx)
	engCtx, engCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer engCancel()
	go func() {
		<-ctx.Done()
		p.close()
		sleep(engCtx, orDefault(w.Drain, 10*time.Second))
		engCancel()
	}()
	go w.heartbeat(engCtx)
	w.stores = make(chan stored, 1024)
	acked := make(chan struct{})
	go func() {
		defer close(acked)
		w.acknowledge(w.stores)
	}()
	for i, r := range w.Verifier.VerifySeq(engCtx, w.feed(ctx, in)) {
		w.finish(engCtx, i, r)
	}
	close(w.stores)
	<-acked
	return nil
}

// feed yields the inputs of the tasks that arrive, until ctx ends.
func (w *Worker) feed(ctx context.Context, in <-chan jetstream.Msg) func(func(string) bool) {
	return func(yield func(string) bool) {
		n := 0
		for {
			var m jetstream.Msg
			select {
			case <-ctx.Done():
				return
			case m = <-in:
			}
			var t task
			if err := json.Unmarshal(m.Data(), &t); err != nil {
				logOrDiscard(w.Logger).Error("worker: a task that is not JSON; dropped", "err", err)
				_ = m.Term()
				continue
			}
			if w.canceled(ctx, t.Job) {
				_ = m.Ack()
				continue
			}
			if w.detour(m, t) {
				continue // no egress of this worker may serve its provider now
			}
			if w.followServer(ctx, m, t) {
				continue // its server's work is on a partition of its own (serverroute.go)
			}
			if !w.roomFor(ctx, m) {
				_ = m.Nak()
				return
			}
			w.mu.Lock()
			w.held[n] = held{m, t}
			w.mu.Unlock()
			n++
			if !yield(t.Addr) {
				return
			}
		}
	}
}

// finish stores a result and acknowledges its task, or sends the task
// back: greylisted (to come again when the server said), or cut short by
// shutdown.
func (w *Worker) finish(ctx context.Context, i int, r verify.Result) {
	w.mu.Lock()
	h, ok := w.held[i]
	delete(w.held, i)
	w.mu.Unlock()
	if !ok {
		return
	}
	md, err := h.m.Metadata()
	if err != nil {
		_ = h.m.Nak()
		return
	}
	last := md.NumDelivered >= uint64(w.Bus.maxDeliver())
	if ctx.Err() != nil && r.Status == verify.Unknown && !last {
		_ = h.m.Nak() // shutting down: another worker does it whole
		return
	}
	if r.Reason == verify.ReasonGreylisted && !last && time.Since(queuedAt(h.t, md)) < orDefault(w.GreylistBudget, 30*time.Minute) {
		retry := max(time.Duration(r.RetryAfter), time.Second)
		w.parked(h.t, retry) // greywait.go
		_ = h.m.NakWithDelay(retry)
		return
	}
	if !last && ctx.Err() == nil && w.park(h, md, r) {
		return // waits for an egress: elsewhere, or within its budget
	}
	if w.canceled(ctx, h.t.Job) {
		_ = h.m.Ack()
		return
	}
	if h.t.Raw != "" {
		r.Input = h.t.Raw
	}
	f, err := w.Bus.storeResultAsync(h.t, r)
	if err != nil {
		logOrDiscard(w.Logger).Warn("worker: store result", "job", h.t.Job, "err", err)
		nakLater(h.m)
		return
	}
	w.stores <- stored{h, f, r, time.Now().Add(30 * time.Second)}
}

// A stored is a result on its way into the stream; its task is
// acknowledged once the stream has it, never before.
type stored struct {
	h        held
	f        jetstream.PubAckFuture
	r        verify.Result
	deadline time.Time // when to give up on the acknowledgement
}

// acknowledge acknowledges each task whose result the stream took, in
// the order they were stored, until stores is closed.
func (w *Worker) acknowledge(stores <-chan stored) {
	for s := range stores {
		var err error
		select {
		case <-s.f.Ok():
		case err = <-s.f.Err():
		case <-time.After(time.Until(s.deadline)):
			// Counted from the publish, not from this wait: acks lost
			// with a NATS server expire together, not 30 s one by one.
			err = errors.New("no acknowledgement from the stream")
		}
		isNew, err := storedOnce(err)
		if err != nil {
			logOrDiscard(w.Logger).Warn("worker: store result", "job", s.h.t.Job, "err", err)
			nakLater(s.h.m)
			continue
		}
		// A lost ack redelivers the task; its result stays single.
		_ = s.h.m.Ack()
		if isNew && w.OnResult != nil {
			w.OnResult(s.r)
		}
	}
}

// heartbeat keeps the tasks held from being redelivered while they wait
// for their mail server.
func (w *Worker) heartbeat(ctx context.Context) {
	repeat(ctx, w.Bus.ackWait()/3, func() {
		w.mu.Lock()
		ms := make([]jetstream.Msg, 0, len(w.held))
		for _, h := range w.held {
			ms = append(ms, h.m)
		}
		w.mu.Unlock()
		for _, m := range ms {
			_ = m.InProgress()
		}
	})
}

// canceled tells whether a job was canceled (or is gone), looking at most
// once a second per job.
func (w *Worker) canceled(ctx context.Context, job string) bool {
	w.mu.Lock()
	st, ok := w.states[job]
	w.mu.Unlock()
	if ok && time.Since(st.at) < time.Second {
		return st.canceled
	}
	rec, _, err := w.Bus.load(ctx, job)
	st = jobState{canceled: errors.Is(err, ErrNotFound) || err == nil && rec.State == Canceled, at: time.Now()}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false // cannot tell: do the work
	}
	w.mu.Lock()
	if len(w.states) > 10000 {
		clear(w.states)
	}
	w.states[job] = st
	w.mu.Unlock()
	return st.canceled
}

// nakLater sends back a task whose result could not be stored, to come
// again after a delay that doubles with each delivery (250 ms, 500 ms, …,
// at most 10 s). A store fails while the stream elects a new leader (a
// NATS server died): sent back at once, the task came back within
// milliseconds and spent its MaxDeliver deliveries before the election
// ended, and its address was dead-lettered unknown.
func nakLater(m jetstream.Msg) {
	n := uint64(1)
	if md, err := m.Metadata(); err == nil && md.NumDelivered > 0 {
		n = md.NumDelivered
	}
	_ = m.NakWithDelay(storeRetryDelay(n))
}

func storeRetryDelay(delivered uint64) time.Duration {
	if delivered > 6 {
		return 10 * time.Second
	}
	return min(250*time.Millisecond<<(delivered-1), 10*time.Second)
}
