package verify

import (
	"context"
	"slices"
	"time"

	"github.com/mailverify/mailverify/catchall"
	"github.com/mailverify/mailverify/smtpprobe"
	"golang.org/x/time/rate"
)

// A conn is a worker's open session to its mail server.
type conn struct {
	id      uint64 // the engine's number for it (see connID)
	q       *hostQueue
	s       *smtpprobe.Session
	addr    string
	release func()
	limiter *rate.Limiter
	pc      *pacer   // the session's share of the server's RCPT pace
	reask   bool     // trails asks every acceptance again (see askTrailing)
	cans    []canary // the canaries of the batch being filed
	fronts  []front  // ... and its fronts (canary.go)
	ctls    flushControls
	conv    *convLog // the conversation, with Transcript
	// lastConn and lastTx are where the latest RCPT answer on it stood:
	// the transaction a trailing probe continues.
	lastConn connID
	lastTx   int
}

// work serves q: batch after batch on one session, for every domain whose
// jobs wait there, until the queue is empty.
func (e *engine) work(q *hostQueue) {
	defer e.wg.Done()
	var c *conn
	// Without a slot (the context ended) the queue is still drained: each
	// batch fails at once, opening no session.
	slot := e.acquireSlot(q)
	defer func() {
		// The session is closed before its slot goes to another worker:
		// sessions open at once never exceed Concurrency.
		e.closeConn(c)
		if slot {
			e.releaseSlot()
		}
	}()
	lingered := false
	for {
		e.mu.Lock()
		if len(q.jobs) == 0 && len(q.probes) == 0 {
			if lingered || c == nil || !e.expectingWork() || len(e.slotWaits) > 0 {
				if q.workers--; q.workers == 0 && e.queues[q.key] == q {
					delete(e.queues, q.key)
				}
				e.mu.Unlock()
				return
			}
			// More domains are being looked up: their addresses may be
			// for this server, so keep the session a moment for them,
			// unless another server's worker waits for the slot.
			q.idle++
			e.mu.Unlock()
			e.linger(q)
			e.mu.Lock()
			q.idle--
			e.mu.Unlock()
			lingered = true
			continue
		}
		e.mu.Unlock()
		lingered = false
		c = e.step(q, c)
	}
}

// minRoom is the fewest recipients a flush should carry while more wait:
// below it, a new connection (greeting, EHLO, and a full error budget)
// costs less than the round trips the small flushes would take.
const minRoom = 3

// step serves the next batch of q on c: it opens a session when there is
// none, renews one whose next flush would carry too few of the jobs
// waiting (unless the per-host rate, not round trips, sets the pace: a
// full flush would wait for it anyway), and takes as many jobs as the
// flush carries. Opening and renewing end by the deadlines of the jobs
// they are for. It returns the session to go on with, nil when there is
// none.
func (e *engine) step(q *hostQueue, c *conn) *conn {
	since := time.Now()
	e.mu.Lock()
	waiting := len(q.jobs)
	ctx, cancel := e.batchContext(boundJobs(q.jobs[:min(waiting, batchSize)], q.probes), since)
	e.mu.Unlock()
	defer cancel()
	if c != nil && !e.v.egressFits(c.s) {
		e.closeConn(c) // its egress is backed off or spent: route afresh
		c = nil
	}
	if c == nil {
		var err error
		if c, err = e.openConn(ctx, q); err != nil {
			e.mu.Lock()
			batch, probes := e.take(q, flushRoom{rcpts: batchSize, burst: batchSize}, since)
			sends := e.openFailed(batch, probes, err) // under the same lock: see openFailed
			e.mu.Unlock()
			e.sendAll(sends)
			return nil
		}
	}
	e.mu.Lock()
	renew := q.renew
	q.renew = false
	e.mu.Unlock()
	now, fresh := c.s.Room()
	if renew && c.s.Connections() > 0 {
		// Refusals that did not count are asked again, on a fresh
		// connection: whatever the server counted starts over.
		c.s.Recycle(ctx)
		now = fresh
	} else if now < minRoom && fresh >= minRoom && waiting > now && c.limiter.Tokens() >= float64(fresh) {
		c.s.Recycle(ctx)
		now = fresh
	} else if now <= minRoom && fresh > minRoom && waiting > now && !e.v.SkipCatchAll {
		// Paced by the rate, a small flush costs RCPTs, not round trips:
		// each domain in a batch may need a trailing probe after it, and
		// a new connection lets the next batch carry more of a domain.
		c.s.Recycle(ctx)
		now = fresh
	} else if e.frontSplits(c, q, now) {
		c.s.Recycle(ctx)
		now = fresh
	}
	now = e.v.egressCap(c.s, now) // egress.go
	// The server's pace binds while its bucket is not full.
	r := flushRoom{rcpts: now, fresh: e.v.egressCap(c.s, fresh), spare: c.limiter.Tokens() < float64(c.limiter.Burst()), burst: c.pc.free(), inline: inlines(c),
		fronts: c.s.Quirks().RcptsPerConnection == 0, oneDomain: c.s.Quirks().OneDomainPerTx}
	e.mu.Lock()
	batch, probes := e.take(q, r, since)
	e.mu.Unlock()
	if batch == nil && probes == nil {
		return c // another worker took the work meanwhile
	}
	return e.serve(c, batch, probes)
}

// lingerTime is how long an idle session waits for addresses that lookups
// still running may bring.
const lingerTime = 250 * time.Millisecond

// linger waits until q gets work, lingerTime passes or the context ends.
func (e *engine) linger(q *hostQueue) {
	t := time.NewTimer(lingerTime)
	defer t.Stop()
	select {
	case <-q.signal:
	case <-t.C:
	case <-e.ctx.Done():
	}
}

// expectingWork reports whether addresses may still come: the input is
// being read, or lookups are running. e.mu is held.
func (e *engine) expectingWork() bool {
	return e.lookups > 0 || !e.inputDone
}

// boundJobs returns the jobs whose deadlines bound a batch's work: the
// batch's, or, for probes alone (a trailing or greylisted probe), the
// jobs waiting for their answers. e.mu is held.
func boundJobs(batch []*job, probes []*hostRun) []*job {
	if len(batch) > 0 {
		return batch
	}
	var jobs []*job
	for _, hr := range probes {
		jobs = append(append(jobs, hr.decided...), hr.parked...)
	}
	return jobs
}

// batchContext bounds work for jobs by their latest deadline; a job not
// yet tried counts Timeout from since, the attempt. Without Timeout only
// the engine's context bounds it.
func (e *engine) batchContext(jobs []*job, since time.Time) (context.Context, context.CancelFunc) {
	var dl time.Time
	for _, j := range jobs {
		d := j.deadline
		if d.IsZero() && e.v.Timeout > 0 {
			d = since.Add(e.v.Timeout - j.dnsTook)
		}
		if d.After(dl) {
			dl = d
		}
	}
	if dl.IsZero() {
		return context.WithCancel(e.ctx)
	}
	return context.WithDeadline(e.ctx, dl)
}

// serve probes one batch (and any catch-all probes due again) on c and
// files the answers. It returns the session to go on with, nil when it is
// unusable.
func (e *engine) serve(c *conn, batch []*job, probes []*hostRun) *conn {
	e.mu.Lock()
	bound := boundJobs(batch, probes)
	e.mu.Unlock()
	ctx, cancel := e.batchContext(bound, time.Now()) // take gave each a deadline
	defer cancel()
	// The server's RCPT pace is kept by the session, flush by flush
	// (serverLimit.pace): probes and retries count too.
	wires := make([]string, len(batch))
	for k, j := range batch {
		wires[k] = j.wire
	}
	// The catch-all probes of the batch's new domains go in the same
	// round trip as the batch: the answer is wanted for nearly every
	// domain, and asking later costs a round trip of its own.
	e.mu.Lock()
	inline := inlines(c) && !e.v.eg.noInline
	spec := e.newRuns(batch)
	var cans []canary
	if inline {
		cans = e.canaries(batch)
	}
	f := flush{c: c, sent: e.tick()}
	e.mu.Unlock()
	// On a server that pipelines, the canaries go at the end of the
	// batch's own flush (take left them room): a refusal in that flush
	// proves the acceptances before it (see answer.refuted).
	wires = append(wires, e.canaryWires(cans, f)...)
	e.mu.Lock()
	ctls := e.controls(inline, batch, cans)
	e.mu.Unlock()
	wires = append(wires, ctls.wires()...)
	var pend *catchall.Pending
	var alone []string
	if len(spec) > 0 {
		qs := make([]catchall.Question, len(spec))
		for i, hr := range spec {
			qs[i] = hr.question(likeOf(batch, hr)...)
		}
		pend = e.v.detector.Begin(qs)
		alone = pend.Addrs()
	}
	c.markProbes(append(canaryAddrs(cans), alone...)...)
	// The trailing probes (and controls) that may follow the batch in its
	// transaction have their room held in the server's bucket when it
	// goes (take sized the batch so both fit the burst): no wait for the
	// pace comes between the batch and them (see answer.waits), and no
	// other session takes that room meanwhile.
	e.mu.Lock()
	for i, a := range alone {
		e.noteSent(spec[pend.Mine()[i]], a, f.sent)
	}
	if cans == nil {
		c.pc.prepay(e.trailerRcpts(batch))
	}
	// A random address of each domain goes at the front (canary.go,
	// front), where the server pipelines or not.
	var lead *hostRun // the domain whose catch-all probe shares the batch's transaction, just before it
	if m := pendMine(pend); len(alone) > 0 && len(m) > 0 {
		lead = spec[m[len(m)-1]]
		lead.leads = alone[len(alone)-1] // the last goes in the batch's transaction
	}
	fs, fresh := e.frontsOf(c, batch, len(wires)+2*distinctRuns(batch)-len(cans), len(alone) == 0)
	if lead != nil {
		lead.leads = ""
		// Its front (the pair's second) right after the probe, the pair's
		// first: another domain's fronts between would end the probe's run.
		slices.SortStableFunc(fs, func(a, b front) int { return boolInt(b.hr == lead) - boolInt(a.hr == lead) })
	}
	for _, f := range fs {
		f.hr.sendsPair(f.addr)
	}
	e.mu.Unlock()
	c.markProbes(frontWires(fs)...)
	wires = append(frontWires(fs), wires...)
	defer c.pc.clear()
	var aloneRes, results []smtpprobe.Result
	if fresh {
		// A transaction of their own, with room for the trailing probes
		// that may follow them in it.
		results = c.s.ProbeFresh(ctx, wires...)
	} else {
		aloneRes, results = c.s.ProbeWith(ctx, alone, wires...)
	}
	c.pc.prepay(0) // the room held stays for the trailing flush
	e.learnCanaries(cans, results[len(fs)+len(batch):])
	ctls.take(results)
	fres := results[:len(fs)]
	results = results[len(fs) : len(fs)+len(batch)]
	c.cans, c.ctls = cans, ctls
	var sts []catchall.Status
	var rs []*smtpprobe.Result
	if pend != nil {
		if len(pend.Mine()) < len(spec) {
			// Finish may wait for another run's probe, which may itself
			// wait for the room held here: give it back (the trailing
			// flush then waits like any, see askTrailing).
			c.pc.clear()
		}
		start := time.Now()
		sts, rs = pend.Finish(ctx, aloneRes)
		if time.Since(start) >= time.Millisecond {
			c.pc.gap() // no refusal after it proves an acceptance before it
		}
	}
	e.mu.Lock()
	f.got = e.tick()
	for i, hr := range spec {
		hr.catchAllAnswer(sts[i], rs[i], f)
	}
	for i := range fs {
		fs[i].res = fres[i]
	}
	c.fronts = fs
	e.mu.Unlock()
	e.file(ctx, f, batch, results, probes)
	if ctx.Err() != nil {
		e.closeConn(c)
		return nil
	}
	return c
}

// file hands each answer to its job's hostRun, asks the catch-all
// questions the answers call for on the same session (first probes,
// trailing probes after acceptances, and controls after them), and sends
// what is decided. f is the flush that gave the answers.
func (e *engine) file(ctx context.Context, f flush, batch []*job, results []smtpprobe.Result, probes []*hostRun) {
	c := f.c
	tf := c.filing(batch)
	e.mu.Lock()
	for _, fr := range c.fronts {
		a, ok := fileFront(f, fr.hr, &fr.res) // before the batch's answers: it came first
		if fr.pair && ok {
			fr.hr.pairAns = append(fr.hr.pairAns, a) // decided in notePlace
		}
	}
	c.fronts = nil
	var runs []*hostRun
	seen := map[*hostRun]bool{}
	for k, j := range batch {
		hr := j.run
		if !seen[hr] {
			seen[hr] = true
			runs = append(runs, hr)
		}
		r := results[k]
		if j.expired { // answered at its deadline; the reply is still evidence
			if a, ok := f.answerOf(&r, false); ok {
				hr.record(a)
			}
			continue
		}
		j.out, j.host = &r, hr.host.Name
		j.ans, j.answered = f.answerOf(&r, false)
		j.ans = hr.filed(j)
		if tf != nil {
			j.res.Transcript = tf.transcript(j.wire)
		}
		hr.file(ctx, j)
	}
	e.fileCanaries(f, c.cans) // after the batch's answers
	c.ctls.file(f, batch)     // after the canaries'
	c.cans, c.ctls = nil, nil
	for _, hr := range probes {
		if !seen[hr] {
			seen[hr] = true
			runs = append(runs, hr)
		}
	}
	for _, hr := range runs {
		// Before anything is asked after: a pair decided, or a server
		// answering by place, changes which acceptances are proven.
		hr.notePlace()
	}
	e.mu.Unlock()
	if ctx.Err() == nil {
		e.askAfter(ctx, c, runs)
	}
	// The room held for the trailing flush is of no more use: it is not
	// kept while the results go out (a consumer may be slow, or read
	// another run first).
	c.pc.clear()
	if ctx.Err() == nil {
		e.sandwich(ctx, c, runs)
	}
	c.compact(batch)
	e.mu.Lock()
	var out []*job
	for _, hr := range runs {
		out = append(out, hr.afterBatch()...)
	}
	e.mu.Unlock()
	e.sendAll(out)
}

// pendMine is p.Mine(), nil without p.
func pendMine(p *catchall.Pending) []int {
	if p == nil {
		return nil
	}
	return p.Mine()
}
