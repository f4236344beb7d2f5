package verify

import (
	"context"
	"slices"

	"github.com/mailverify/mailverify/catchall"
	"github.com/mailverify/mailverify/smtpprobe"
)

// askAfter asks, on c after a batch, the catch-all questions the runs'
// answers call for. Where acceptances of a domain wait for a refusal
// after them, its random address goes first, right after the batch in the
// same transaction (a trailing probe), with one accepted address of the
// domain after it where the host refuses naming no reason (a control, in
// the same flush); it answers the catch-all question too. The other
// questions (a first probe, a greylisted one due again) go after, each
// probe first in a transaction of its own.
func (e *engine) askAfter(ctx context.Context, c *conn, runs []*hostRun) {
	e.mu.Lock()
	var trail, ask []*hostRun
	var ctl []string
	for _, hr := range runs {
		if !hr.wantsCatchAll() {
			continue
		}
		if hr.waitsForRefusal() && !hr.consumer() && !e.v.SkipCatchAll {
			trail = append(trail, hr)
		} else {
			ask = append(ask, hr)
			ctl = append(ctl, hr.control())
		}
		hr.startAsking()
	}
	e.mu.Unlock()
	if len(trail) > 0 {
		e.askTrailing(ctx, c, trail)
	}
	if len(ask) == 0 {
		return
	}
	e.mu.Lock()
	f := flush{c: c, sent: e.tick()}
	e.mu.Unlock()
	sts, rs, cr := e.askCatchAll(ctx, f, ask, ctl)
	for _, r := range rs {
		if r != nil {
			c.markProbes(r.Address)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	f.got = e.tick()
	for i, hr := range ask {
		hr.catchAllAnswer(sts[i], rs[i], f)
		if a, ok := f.answerOf(cr[i], false); ok {
			hr.record(a) // after the probe's: it may make the probe's refusal count
		}
	}
}

// askTrailing sends the trailing probes of runs, with their controls, in
// the session's transaction: one Probe, one flush where it pipelines.
// Each domain's part goes together: the acceptances from another
// transaction (a greylisting retry, a full transaction, another session)
// asked again, once, then the random address, then the control; so the
// probe's refusal comes after them in their transaction. Parts that do
// not fit the transaction wait for a later probe.
func (e *engine) askTrailing(ctx context.Context, c *conn, runs []*hostRun) {
	e.mu.Lock()
	// A server that judges only the first recipients of a connection is
	// compared across connections (answer.refuted): nothing is asked again.
	perConn := c.s.Quirks().RcptsPerConnection > 0
	room, _ := c.s.TxRoom()
	fresh := room == 0
	ts := e.trails(c, runs, perConn, fresh)
	if !fresh && (ts == nil || slices.ContainsFunc(ts, func(t trail) bool { return t.pair != "" && t.hr.inTx(c) })) {
		// Nothing fits the open transaction, or a front pair would sit
		// inside a run of its domain there (hostRun.decidePairs): a new one.
		fresh = true
		ts = e.trails(c, runs, perConn, fresh)
	}
	if c.pc.short(trailsSize(ts)) {
		// The flush will wait for the server's pace, and no refusal
		// proves an acceptance across a wait (answer.waits): the
		// acceptances go again, in the probe's flush.
		// Only where every part still fits: a part left out would wait
		// for a later probe, and the queue would offer it again at once.
		c.reask = true
		if again := e.trails(c, runs, perConn, fresh); len(again) == len(ts) {
			ts = again
		}
		c.reask = false
	}
	qs := make([]catchall.Question, len(ts))
	for i, t := range ts {
		t.hr.sendsPair(t.pair)
		qs[i] = t.hr.question(likeOf(t.again, t.hr)...)
		qs[i].Retry = true // after acceptances: a random address deferred before is due
		qs[i].Prefer = t.hr.askedSince(t.again)
		for _, j := range t.again {
			j.rebrackets++
		}
		// One trailing probe for each acceptance of the domain: it comes
		// after them in their transaction (or, on a server judging one
		// recipient a connection, at all), or they were asked again
		// before it; any left out for want of room stay unproven.
		for _, j := range t.hr.decided {
			if j.out.Outcome == smtpprobe.Accepted && j.answered {
				j.trailed = true
			}
		}
	}
	for _, hr := range runs {
		if !slices.ContainsFunc(ts, func(t trail) bool { return t.hr == hr }) {
			hr.asking = false // no room this time: a later probe
		}
	}
	f := flush{c: c, sent: e.tick()}
	e.mu.Unlock()
	if len(ts) == 0 {
		return
	}
	if !pipelines(c.s) {
		// One command a flush: the room for them all is taken before the
		// first, so no wait for the pace comes between the acceptances
		// asked again and the probe (pacer.hold). A wait it makes comes
		// before them all; the acceptances not asked again then stay
		// unproven (answer.near), as reask above expected.
		_ = c.pc.hold(ctx, trailsSize(ts))
	}
	probes := e.v.detector.ProbeAddrs(qs)
	e.mu.Lock()
	for i, t := range ts {
		e.noteSent(t.hr, probes[i], f.sent)
	}
	e.mu.Unlock()
	c.markProbes(probes...)
	var wires []string
	for i, t := range ts {
		if t.front != "" {
			wires = append(wires, t.front)
			c.markProbes(t.front)
		}
		if t.pair != "" {
			wires = append(wires, t.pair)
			c.markProbes(t.pair)
		}
		if t.spell != "" {
			wires = append(wires, t.spell)
			c.markProbes(t.spell)
		}
		for _, j := range t.again {
			wires = append(wires, j.wire)
		}
		wires = append(wires, probes[i])
		if t.ctl != "" {
			wires = append(wires, t.ctl)
		}
	}
	var res []smtpprobe.Result
	if fresh {
		res = c.s.ProbeFresh(ctx, wires...)
	} else {
		res = c.s.Probe(ctx, wires...)
	}
	pr := make([]smtpprobe.Result, len(ts))
	k := 0
	for i, t := range ts {
		pr[i] = res[k+t.randoms()+len(t.again)]
		k += t.size()
	}
	sts := e.v.detector.Learn(qs, pr)
	e.mu.Lock()
	defer e.mu.Unlock()
	f.got = e.tick()
	k = 0
	for i, t := range ts {
		if t.front != "" {
			_, _ = fileFront(f, t.hr, &res[k])
			k++
		}
		if t.pair != "" {
			if a, ok := fileFront(f, t.hr, &res[k]); ok {
				t.hr.pairAns = append(t.hr.pairAns, a) // decided in notePlace
			}
			k++
		}
		if t.spell != "" {
			t.hr.fileSpell(f, &res[k])
			k++
		}
		for _, j := range t.again { // the acceptances asked again come first
			// A reply about the egress says nothing of the mailbox: the
			// acceptance stays, to be proven through another egress
			// (probeAboutEgress sends it on with the probe's).
			if r := res[k]; r.Seq > 0 && !e.aboutTheEgress(&r) {
				j.out, j.host = &r, t.hr.host.Name
				j.ans, j.answered = f.answerOf(&r, false)
				j.ans = t.hr.filed(j)
				t.hr.record(j.ans)
			}
			k++
		}
		t.hr.catchAllAnswer(sts[i], &pr[i], f)
		if t.first && sts[i] == catchall.Unknown && pr[i].Outcome != smtpprobe.Rejected {
			t.hr.asked = false // not a first question answered: ask it alone later
		}
		if k++; t.ctl != "" {
			if a, ok := f.answerOf(&res[k], false); ok {
				t.hr.record(a)
			}
			k++
		}
	}
}

// A trail is one domain's part of a trailing probe's flush.
type trail struct {
	hr    *hostRun
	again []*job // acceptances asked again before the probe
	first bool   // the probe answers the first catch-all question too
	ctl   string // the control after it, or ""
	// front: a random address of the domain before again (see front in
	// canary.go), or "" where nothing is asked again; pair: the second of
	// the front pair, right after it, while one is due (positional.go).
	front, pair string
	// spell: the random address of the domain the host accepted last
	// (hostRun.spell), after the front, or "" (see fileSpell).
	spell string
}

func (t trail) size() int {
	n := len(t.again) + 1 + t.randoms()
	if t.ctl != "" {
		n++
	}
	return n
}

// trails plans the parts of runs that fit the transaction the probes go
// in (the open one, or a fresh one) and one flush within the error
// budget, so that no reconnection comes between an acceptance and its
// probe. e.mu is held.
func (e *engine) trails(c *conn, runs []*hostRun, perConn, fresh bool) []trail {
	// Each part's probe may be refused; the acceptances asked again are
	// not expected to be.
	capacity, refusals := c.s.TxRoom()
	if fresh {
		capacity, refusals = c.s.FreshRoom()
	}
	var ts []trail
	used, errs := 0, 0
	for _, hr := range runs {
		t := trail{hr: hr, first: !hr.asked, ctl: hr.control()}
		for _, j := range hr.decided {
			if j.out.Outcome == smtpprobe.Accepted && j.answered && j.rebrackets < maxRebrackets && !hr.proven(j) && !perConn && !j.ans.perConn &&
				(fresh || j.ans.piped || j.ans.conn != c.lastConn || j.ans.tx != c.lastTx || j.ans.waits != c.pc.count() || c.reask || !j.ans.fronted) {
				t.again = append(t.again, j)
			}
		}
		if len(t.again) > 0 {
			// The front (or the pair) and the probe may all be refused.
			// They are asked before (a held front or pair, or the pair
			// asked again, may front them), so the fronts are one, or a
			// pair (hostRun.heldFronts).
			fs := hr.trailFronts(likeOf(t.again, hr), t.again)
			t.front = fs[0].addr
			if len(fs) > 1 {
				t.pair = fs[1].addr
			}
			t.spell = hr.spell // ... and this
		}
		if (used+t.size() > capacity || errs+t.errs() > refusals) && !perConn {
			if len(ts) > 0 || !fresh {
				continue
			}
			t.again = t.again[:max(0, capacity-1-t.randoms()-boolInt(t.ctl != ""))]
			if refusals < 1+t.randoms() {
				t.again = nil // no room for the fronts' refusals: nothing asked again
			}
			if len(t.again) == 0 {
				t.front, t.pair, t.spell = "", "", ""
			}
		}
		used, errs = used+t.size(), errs+t.errs()
		ts = append(ts, t)
	}
	return ts
}

// errs counts the refusals t may draw: its probe's, its fronts' and its
// spell's.
func (t trail) errs() int { return 1 + t.randoms() }

// randoms counts t's random addresses before the acceptances it asks
// again: its front (and the pair's second), and its spell.
func (t trail) randoms() int {
	return boolInt(t.front != "") + boolInt(t.pair != "") + boolInt(t.spell != "")
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// askCatchAll asks the catch-all questions of several domains in flush f
// (on its session), their probes together in one round trip where the
// server pipelines. A first question may be answered from the Detector's cache;
// a question asked again (a trailing probe) is probed now. A question
// with a control (ctl[i] not "") goes in a transaction of its own, the
// control right after the probe; its result is returned in the third
// slice. It runs without e.mu.
func (e *engine) askCatchAll(ctx context.Context, f flush, runs []*hostRun, ctl []string) ([]catchall.Status, []*smtpprobe.Result, []*smtpprobe.Result) {
	s := f.c.s
	sts := make([]catchall.Status, len(runs))
	rs := make([]*smtpprobe.Result, len(runs))
	cr := make([]*smtpprobe.Result, len(runs))
	var first, again []catchall.Question
	var atFirst, atAgain []int
	for i, hr := range runs {
		q := hr.question()
		q.Retry = hr.asked // asked before: deferred, or a trailing probe
		switch {
		case hr.consumer():
			sts[i] = catchall.No
		case e.v.SkipCatchAll:
		case hr.asked && !hr.deferred:
			again, atAgain = append(again, q), append(atAgain, i)
		default:
			first, atFirst = append(first, q), append(atFirst, i)
		}
	}
	if len(first)+len(again) == 0 {
		return sts, rs, cr
	}
	p := e.v.detector.Begin(first)
	addrs := append(p.Addrs(), e.v.detector.ProbeAddrs(again)...)
	at := append(mine(p, atFirst), atAgain...)
	e.mu.Lock()
	for k, a := range addrs {
		e.noteSent(runs[at[k]], a, f.sent)
	}
	e.mu.Unlock()
	res := e.probeWithControls(ctx, s, addrs, at, ctl, cr)
	n := len(p.Addrs())
	fsts, frs := p.Finish(ctx, res[:n])
	for k, i := range atFirst {
		sts[i], rs[i] = fsts[k], frs[k]
	}
	asts := e.v.detector.Learn(again, res[n:])
	for k, i := range atAgain {
		r := res[n+k]
		sts[i], rs[i] = asts[k], &r
	}
	return sts, rs, cr
}

// mine returns the places in runs of the first questions whose probes
// this caller sends, in Pending.Addrs' order.
func mine(p *catchall.Pending, at []int) []int {
	out := make([]int, 0, len(p.Mine()))
	for _, i := range p.Mine() {
		out = append(out, at[i])
	}
	return out
}

// probeWithControls sends the probes addrs (at their runs' places at):
// those without a control together (ProbeEach), each one with a control
// in a transaction of its own, the control right after it in the same
// flush. Control results go to cr.
func (e *engine) probeWithControls(ctx context.Context, s *smtpprobe.Session, addrs []string, at []int, ctl []string, cr []*smtpprobe.Result) []smtpprobe.Result {
	res := make([]smtpprobe.Result, len(addrs))
	var plain []string
	var plainAt []int
	for k, a := range addrs {
		if c := ctl[at[k]]; c != "" {
			rr := s.ProbeFresh(ctx, a, c)
			res[k], cr[at[k]] = rr[0], &rr[1]
			continue
		}
		plain, plainAt = append(plain, a), append(plainAt, k)
	}
	for n, r := range s.ProbeEach(ctx, plain...) {
		res[plainAt[n]] = r
	}
	return res
}

// aboutTheEgress reports whether r, with Egresses, is a reply about the
// egress (a throttle, a block), not the mailbox.
func (e *engine) aboutTheEgress(r *smtpprobe.Result) bool {
	return e.v.eg.router != nil && r.Reply != nil && classifyResult(r).Verdict.Against()
}

// newRuns returns the hostRuns of the batch whose catch-all question is
// still to ask, marked as being asked; those a question needs no probe
// for (consumer domains, SkipCatchAll) are answered at once. e.mu is held.
func (e *engine) newRuns(batch []*job) []*hostRun {
	var out []*hostRun
	for _, j := range batch {
		hr := j.run
		if hr.asked || hr.asking {
			continue
		}
		switch {
		case hr.consumer():
			hr.catchAllAnswer(catchall.No, nil, flush{})
		case e.v.SkipCatchAll:
			hr.catchAllAnswer(catchall.Unknown, nil, flush{})
		case e.trailsFirst(hr):
			// No probe of its own (see trailsFirst).
		default:
			hr.asking = true
			out = append(out, hr)
		}
	}
	return out
}

// probeDue reports whether the next batch with a job of hr carries hr's
// catch-all probe (see newRuns). e.mu is held.
func (e *engine) probeDue(hr *hostRun) bool {
	return !hr.asked && !hr.asking && !e.v.SkipCatchAll && !hr.consumer() && !e.trailsFirst(hr)
}
