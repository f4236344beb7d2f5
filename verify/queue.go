package verify

import (
	"context"
	"log/slog"
	"math"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mailverify/mailverify/mx"
	"github.com/mailverify/mailverify/risk"
	"github.com/mailverify/mailverify/smtpprobe"
)

// domainState is what the engine knows of one domain while addresses of it
// are in flight: its MX answer, and a hostRun per MX host tried.
type domainState struct {
	name    string
	mr      mx.Result
	hosts   []mx.Host // usable hosts, at most maxHostsTried
	runs    []*hostRun
	looked  bool
	waiting []*job         // arrived before the lookup ended
	live    int            // jobs of the domain in flight
	signals domainSignals  // the opt-in lookups beside the MX lookup
	dispNet *risk.Evidence // its MX hosts are a disposable-mail service's
	// locals are a few of its local parts, the shape of its random
	// addresses (catchall.Question.Like); read without e.mu.
	locals atomic.Pointer[[]string]
}

// maxLocals bounds domainState.locals.
const maxLocals = 8

// run returns the hostRun of the domain's n-th host. e.mu is held.
func (d *domainState) run(e *engine, n int) *hostRun {
	if d.runs[n] == nil {
		h := d.hosts[n]
		d.runs[n] = &hostRun{e: e, d: d, host: h, idx: n, last: n == len(d.hosts)-1,
			key: net.JoinHostPort(h.Addrs[0].String(), e.v.port())}
		d.runs[n].recall()
	}
	return d.runs[n]
}

// A hostQueue holds the jobs waiting for one mail server, the politeness
// key: the address sessions connect to. At most PerHost workers serve it,
// each with one session, so the per-host limits hold however many domains
// the server hosts.
type hostQueue struct {
	key     string
	host    mx.Host // the host to open sessions to
	jobs    []*job
	probes  []*hostRun // catch-all probes to ask again (greylisted before)
	workers int        // serving the queue
	open    int        // ... of them with a session open (see engine.spill)
	idle    int        // ... of them waiting for work (see engine.linger)
	renew   bool       // the next batch goes on a fresh connection
	signal  chan struct{}
	fresh   int // the first jobs of new domains, at the front of jobs
	// served is when each run last had jobs in a batch taken from the
	// queue, within maxHold (see groupOrder).
	served map[*hostRun]time.Time
	kept   int // len(served) after it was last pruned (hostQueue.flushed)
}

// route files a prechecked job under its domain, starting the domain's
// lookup on the first one.
func (e *engine) route(j *job) {
	e.mu.Lock()
	d := e.domains[j.res.DomainASCII]
	if d == nil {
		d = &domainState{name: j.res.DomainASCII}
		e.domains[d.name] = d
	}
	d.live++
	j.d = d
	if ls := d.locals.Load(); ls == nil || len(*ls) < maxLocals {
		var next []string
		if ls != nil {
			next = slices.Clone(*ls)
		}
		next = append(next, j.wire[:strings.LastIndexByte(j.wire, '@')])
		d.locals.Store(&next)
	}
	if !d.looked {
		d.waiting = append(d.waiting, j)
		start := len(d.waiting) == 1
		if start {
			e.lookups++
			e.wg.Add(1)
		}
		e.mu.Unlock()
		if start {
			go e.lookup(d)
		}
		return
	}
	out := e.dispatch(j)
	e.mu.Unlock()
	e.sendAll(out)
}

// lookup asks DNS for the domain's mail servers, then dispatches the jobs
// that waited for the answer. Every question it asks (MX, A/AAAA, the
// canary, the signals beside them) is bounded by the context and by
// Timeout from when the lookup gets its DNS slot: the lookup serves all
// the addresses waiting for it, and each has that budget. When the budget
// runs out first, they are unknown/timeout.
func (e *engine) lookup(d *domainState) {
	defer e.wg.Done()
	var mr mx.Result
	var signals domainSignals
	err := e.dns.Acquire(e.ctx, 1)
	began := time.Now()
	ctx, cancel := e.lookupContext()
	defer cancel()
	if err == nil {
		var sig chan domainSignals
		if e.v.signalsWanted() {
			sig = make(chan domainSignals, 1)
			go func() { sig <- e.v.domainSignals(ctx, d.name) }()
		}
		mr, err = e.v.mxc.Lookup(ctx, d.name)
		e.dns.Release(1)
		if err == nil {
			e.v.logger().LogAttrs(ctx, slog.LevelDebug, "mx lookup", slog.String("domain", d.name),
				slog.String("status", mr.Status.String()), slog.Int("hosts", len(mr.Hosts)))
		}
		if sig != nil {
			signals = <-sig
		}
		if signals.listed == nil {
			signals.listed = e.v.hostsListed(ctx, mr.Usable())
		}
	}
	outOfTime := ctx.Err() != nil && e.ctx.Err() == nil && (err != nil || mr.Status == mx.Temporary)
	if err != nil && e.ctx.Err() == nil {
		// The address's budget ended the wait, not the caller's context.
		err = &net.DNSError{Err: "no answer within the time budget (Timeout " + e.v.Timeout.String() + ")",
			Name: d.name, IsTimeout: true, IsTemporary: true, UnwrapErr: err}
	}
	e.mu.Lock()
	e.lookups--
	d.looked, d.mr, d.signals = true, mr, signals
	if err != nil { // the context or the budget ended: the domain was parsed already
		d.mr = mx.Result{Status: mx.Temporary, Err: err}
	}
	for _, h := range mr.Usable() {
		if len(d.hosts) < maxHostsTried {
			d.hosts = append(d.hosts, h)
		}
	}
	d.runs = make([]*hostRun, len(d.hosts))
	d.dispNet = e.v.disposableMX().Match(hostNames(mr.Hosts))
	var out []*job
	for _, j := range d.waiting {
		j.dnsTook = time.Since(began)
		if j.start.After(began) {
			j.dnsTook = time.Since(j.start)
		}
		if outOfTime {
			out = append(out, e.decide(j, Unknown, ReasonTimeout, d.mr.Err)...)
			continue
		}
		out = append(out, e.dispatch(j)...)
	}
	d.waiting = nil
	e.mu.Unlock()
	e.sendAll(out)
}

// lookupContext bounds a domain's lookup: by the engine's context, and by
// Timeout from now when it is set.
func (e *engine) lookupContext() (context.Context, context.CancelFunc) {
	if e.v.Timeout > 0 {
		return context.WithTimeout(e.ctx, e.v.Timeout)
	}
	return context.WithCancel(e.ctx)
}

// dispatch decides a job from its domain's MX answer, or queues it for the
// first mail host. It returns the jobs decided. e.mu is held.
func (e *engine) dispatch(j *job) []*job {
	d, v := j.d, e.v
	j.res.Provider = string(d.mr.Provider)
	if mx.Gateways[d.mr.Provider] {
		j.res.Backend = string(d.signals.backend)
	}
	switch d.mr.Status {
	case mx.DomainNotFound:
		return e.decide(j, Undeliverable, ReasonDomainNotFound, nil)
	case mx.NoMailServer:
		return e.decide(j, Undeliverable, ReasonNoMailServer, nil)
	case mx.NullMX:
		return e.decide(j, Undeliverable, ReasonNullMX, nil)
	case mx.Unroutable:
		return e.decide(j, Undeliverable, ReasonUnroutableMX, nil)
	case mx.Temporary:
		reason := ReasonDNSError
		if e.ctx.Err() != nil {
			reason = ReasonTimeout
		} else {
			j.res.RetryAfter = Seconds(5 * time.Minute)
		}
		return e.decide(j, Unknown, reason, d.mr.Err)
	}
	if d.dispNet != nil { // a throwaway domain no list has yet
		j.res.Disposable = true
		j.res.Risk = withFlag(j.res.Risk, func(r *risk.Risk) { r.DisposableNetwork = d.dispNet })
		for _, h := range d.hosts {
			j.res.MXHosts = appendHost(j.res.MXHosts, h.Name)
		}
		return e.decide(j, Risky, ReasonDisposable, nil)
	}
	switch {
	case v.SkipSMTP:
		return e.decide(j, Unknown, ReasonSMTPNotChecked, nil)
	case acceptAllProviders[d.mr.Provider]:
		return e.decide(j, Unknown, ReasonCannotVerify, nil)
	}
	for _, h := range d.hosts {
		j.res.MXHosts = appendHost(j.res.MXHosts, h.Name)
	}
	return e.enqueue(d.run(e, 0), j)
}

// decide gives j a verdict that needs no SMTP answer. e.mu is held.
func (e *engine) decide(j *job, s Status, r Reason, err error) []*job {
	j.res.Status, j.res.Reason, j.res.Err = s, r, err
	finish([]*job{j})
	e.forget(j)
	return []*job{j}
}

// forget drops a decided job from its domain, and the domain once it has
// none in flight, so memory follows the window. e.mu is held.
func (e *engine) forget(j *job) {
	j.at = atNone
	e.unwatch(j)
	if d := j.d; d != nil {
		if d.live--; d.live == 0 && e.domains[d.name] == d {
			for _, hr := range d.runs {
				if hr != nil {
					hr.stopTimer()
				}
			}
			delete(e.domains, d.name)
		}
	}
}

// enqueue puts j in the queue of hr's mail server and starts the server's
// worker if none runs. It returns jobs decided at once (the context is
// done). e.mu is held.
func (e *engine) enqueue(hr *hostRun, j *job) []*job {
	j.run = hr
	if e.ctx.Err() != nil {
		j.out = e.timeout(j)
		hr.decided = append(hr.decided, j)
		j.at = atDecided
		return hr.emitReady(hr.pending == 0)
	}
	hr.pending++
	q := e.queue(hr)
	if q.open == 0 {
		// No session serves the server yet: its workers wait for a slot
		// (Concurrency) or for a session there (PerHost), or are
		// connecting.
		defer e.spill(j, math.MaxInt)
	}
	if !hr.contacted {
		// The first address of a domain new to the server goes first: a
		// greylisting server is found early, so that its wait overlaps
		// the rest of the run instead of coming after it.
		hr.contacted = true
		q.fresh = min(q.fresh, len(q.jobs)) // a job may have left at its deadline
		q.jobs = slices.Insert(q.jobs, q.fresh, j)
		q.fresh++
		e.spill(j, q.fresh) // its place in the queue
	} else if !hr.greySince.IsZero() {
		// The host greylists the domain: its first try goes early too, so
		// that its wait overlaps the queue's work, not the run's end.
		q.fresh = min(q.fresh, len(q.jobs))
		q.jobs = slices.Insert(q.jobs, q.fresh, j)
		e.spill(j, q.fresh+1)
	} else {
		q.jobs = append(q.jobs, j)
		e.spill(j, len(q.jobs))
	}
	j.at = atQueue
	e.wake(q)
	return nil
}

// workerShare is how many queued jobs make another worker (and session)
// worth its handshake.
const workerShare = 50

func (e *engine) queue(hr *hostRun) *hostQueue {
	q := e.queues[hr.key]
	if q == nil {
		q = &hostQueue{key: hr.key, host: hr.host, signal: make(chan struct{}, 1)}
		e.queues[hr.key] = q
	}
	return q
}

// wake rouses a lingering worker of q, or starts one when none runs or
// the queue is longer than its workers take at once, up to PerHost. e.mu
// is held.
func (e *engine) wake(q *hostQueue) {
	if q.idle > 0 {
		select {
		case q.signal <- struct{}{}:
		default:
		}
		return
	}
	if q.workers == 0 || q.workers < orDefault(e.v.PerHost, defaultPerHost) && len(q.jobs) > q.workers*workerShare {
		q.workers++
		e.wg.Add(1)
		go e.work(q)
	}
}

func (e *engine) timeout(j *job) *smtpprobe.Result {
	err := e.ctx.Err()
	if err == nil {
		err = context.DeadlineExceeded
	}
	return &smtpprobe.Result{Address: j.wire, Outcome: smtpprobe.Timeout, Err: err}
}
