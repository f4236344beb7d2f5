package verify

import (
	"context"
	"iter"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// VerifySeq verifies the addresses of in as they come and yields each
// one's position in in (0, 1, ...) with its Result, exactly once, in the
// order the results are ready. It is the streaming form of VerifyAll:
// memory is bounded by the Window (see there), not by the length of in. Addresses are grouped by mail server, not by domain: one SMTP
// session to a host carries the addresses of every domain it serves. A
// greylisted address waits parked, holding no session, and is retried when
// due while the others go on.
//
// in is read from another goroutine. When ctx ends, the work in flight
// ends: those addresses are yielded with unknown/timeout (or greylisted),
// and the rest of in is still read, each address yielded with its syntax
// or list verdict or unknown/timeout, so that every input has a result.
// Breaking out of the loop stops reading in at once; the loop ends even if
// in is blocked. A misconfigured Verifier (see Validate) yields every
// address with the configuration error.
func (v *Verifier) VerifySeq(ctx context.Context, in iter.Seq[string]) iter.Seq2[int, Result] {
	return func(yield func(int, Result) bool) {
		if err := v.Validate(); err != nil {
			i := 0
			for a := range in {
				if !yield(i, Result{Input: a, Status: Unknown, Reason: ReasonSMTPNotChecked, Err: err, Error: err.Error()}) {
					return
				}
				i++
			}
			return
		}
		v.init()
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		e := newEngine(ctx, v)
		go e.feed(in)
		for r := range e.out {
			if !yield(r.i, r.res) {
				e.mu.Lock()
				e.broken = true // stop reading in: no more results are wanted
				e.mu.Unlock()
				cancel()
				for range e.out {
				}
				return
			}
		}
	}
}

// Window is how many addresses VerifySeq holds at most between reading
// and yielding them, when Verifier.Window is zero.
const defaultWindow = 4096

// spillFactor is how many times Window the addresses that wait without
// making progress may be, besides the window (see spill).
const spillFactor = 2

// spill takes j out of the window, so that reading goes on, when it
// cannot make progress soon: it is parked (greylisted) until its retry,
// queued at a server no session serves yet (waiting for a slot or a
// session there), or queued at depth behind work its server takes at its
// own pace (a slow or busy server). Otherwise a window full of waiting work starves the
// servers that could go. Memory stays bounded: at most spillFactor times
// Window addresses are spilled at once. e.mu is held.
func (e *engine) spill(j *job, depth int) {
	perHost := orDefault(e.v.PerHost, defaultPerHost)
	if !j.slot || depth <= 2*batchSize*perHost || e.spilled >= spillFactor*orDefault(e.v.Window, defaultWindow) {
		return
	}
	j.slot, j.spilled = false, true
	e.spilled++
	e.window.Release(1)
}

// engine is one VerifySeq call: the addresses in flight, the domains they
// belong to, a queue per mail server and the greylisted addresses parked
// until due. One mutex guards it all; no network I/O happens under it.
type engine struct {
	v      *Verifier
	ctx    context.Context
	out    chan indexed
	window *semaphore.Weighted
	dns    *semaphore.Weighted // lookups at once

	mu        sync.Mutex
	domains   map[string]*domainState
	refusals  map[string]refusalKinds // by server key: how it refuses
	pmSeen    map[string]pmSeen       // by server key: postmaster@ controls answered
	byPlace   map[string]bool         // by server key: it answers by place (positional.go)
	queues    map[string]*hostQueue
	live      int  // addresses read and not yet yielded
	spilled   int  // ... of them out of the window (see spill)
	lookups   int  // DNS lookups running
	inputDone bool // in is exhausted, or reading it stopped
	broken    bool // the consumer broke out of the loop
	finished  bool
	freeSlots int         // session slots free (Concurrency at most)
	slotWaits []*slotWait // workers waiting for one
	allSent   chan struct{}
	clock     uint64        // the engine's order of events (see tick)
	conns     atomic.Uint64 // numbers the workers' sessions
	dl        deadlines     // the jobs with a deadline, earliest first
	dlTimer   *time.Timer   // fires at dlAt, for dl's earliest
	dlAt      time.Time
	dlGen     uint64         // the number of the latest timer
	wg        sync.WaitGroup // lookups, workers and parking timers
	// pendingSends are jobs decided while e.mu is held deep in a call
	// chain (a reroute when the context is done), to send after.
	pendingSends []*job
}

// tick returns the next number in the engine's order of events: a flush
// that takes a tick after another's replies were read sent its commands
// after the server gave those replies. e.mu is held.
func (e *engine) tick() uint64 {
	e.clock++
	return e.clock
}

// takePendingSends returns and clears pendingSends. e.mu is held.
func (e *engine) takePendingSends() []*job {
	out := e.pendingSends
	e.pendingSends = nil
	return out
}

func newEngine(ctx context.Context, v *Verifier) *engine {
	conc := int64(orDefault(v.Concurrency, defaultConcurrency))
	e := &engine{
		v: v, ctx: ctx, out: make(chan indexed),
		window:    semaphore.NewWeighted(int64(orDefault(v.Window, defaultWindow))),
		dns:       semaphore.NewWeighted(2 * conc),
		freeSlots: int(conc),
		domains:   map[string]*domainState{},
		refusals:  map[string]refusalKinds{},
		pmSeen:    map[string]pmSeen{},
		byPlace:   map[string]bool{},
		queues:    map[string]*hostQueue{},
		allSent:   make(chan struct{}),
	}
	context.AfterFunc(ctx, e.abort)
	go func() {
		<-e.allSent
		e.wg.Wait()
		close(e.out)
	}()
	return e
}

// feed reads the input and starts each address on its way.
// When the context ends, the rest of the input is still read, each address
// with its syntax or list verdict or unknown/timeout, so that every input
// has a result; only a consumer that stopped (broke out) stops the reading.
func (e *engine) feed(in iter.Seq[string]) {
	i := 0
	for a := range in {
		e.mu.Lock()
		if e.broken || e.finished {
			e.mu.Unlock()
			break
		}
		e.live++
		e.mu.Unlock()
		j := &job{i: i, start: time.Now(), res: Result{Input: a}, dlIndex: -1}
		i++
		if e.ctx.Err() == nil && e.window.Acquire(e.ctx, 1) == nil {
			j.slot = true
			if e.v.precheck(j) {
				e.send(j)
				continue
			}
			e.route(j)
			continue
		}
		if !e.v.precheck(j) {
			j.res.Status, j.res.Reason, j.res.Err = Unknown, ReasonTimeout, e.ctx.Err()
		}
		e.send(j)
	}
	e.mu.Lock()
	e.inputDone = true
	e.checkDone()
	e.mu.Unlock()
}

// send yields a job's result. It must be called without e.mu held: the
// consumer may be slow, and that holds back only the sender.
func (e *engine) send(j *job) {
	// The caller's I/O, never under e.mu: a History may be a network
	// store (the service's is JetStream KV).
	if e.ctx.Err() == nil && !e.v.Offline {
		e.v.applyFeedback(j) // every verdict, those decided before SMTP too
	}
	if e.v.ProviderProbe != nil && j.out != nil {
		e.v.applyProviderProbe(e.ctx, j)
	}
	j.sent = true
	j.res.Duration = Millis(time.Since(j.start))
	if j.res.Err != nil {
		j.res.Error = j.res.Err.Error()
	}
	e.out <- indexed{j.i, j.res} // VerifySeq reads or drains out to the end
	if j.slot {
		e.window.Release(1)
	}
	e.mu.Lock()
	if j.spilled {
		e.spilled--
	}
	e.live--
	e.checkDone()
	e.mu.Unlock()
}

func (e *engine) sendAll(jobs []*job) {
	for _, j := range jobs {
		e.send(j)
	}
}

// checkDone ends the engine once the input is over (or the consumer
// stopped) and every address read has been yielded. e.mu is held.
func (e *engine) checkDone() {
	if !e.finished && e.live == 0 && (e.inputDone || e.broken) {
		e.finished = true
		e.stopDeadlines()
		close(e.allSent)
	}
}

// abort, when the context ends, finishes what waits in queues and parking:
// those addresses get their verdict now; the ones in flight end on their
// own, since their sessions use the context.
func (e *engine) abort() {
	e.mu.Lock()
	var out []*job
	for _, q := range e.queues {
		for _, j := range q.jobs {
			j.run.pending--
			j.out = e.timeout(j)
			j.run.decided = append(j.run.decided, j)
			j.at = atDecided
		}
		q.jobs, q.probes = nil, nil
	}
	for _, d := range e.domains {
		for _, hr := range d.runs {
			if hr != nil {
				hr.stopTimer()
				out = append(out, hr.giveUp()...)
			}
		}
	}
	out = append(out, e.takePendingSends()...)
	e.checkDone()
	e.mu.Unlock()
	e.sendAll(out)
}
