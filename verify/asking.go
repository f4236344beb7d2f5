package verify

import (
	"context"

	"github.com/mailverify/mailverify/catchall"
	"github.com/mailverify/mailverify/smtpprobe"
)

// askAfter asks, on c after a batch, the catch-all questions the runs'
// answers call for: the first probe of a domain, a trailing probe after
// acceptances that wait for a refusal after them, a greylisted probe that
// is due again; then, where a trailing probe was refused with a reply
// that does not count yet, the control (see hostRun.control).
func (e *engine) askAfter(ctx context.Context, c *conn, runs []*hostRun) {
	e.mu.Lock()
	var ask []*hostRun
	for _, hr := range runs {
		if hr.onlyTrailer() && e.moreFor(hr) {
			// The next batch to this server will likely carry a refusal
			// that counts; if not, the probe goes after it (emitReady
			// schedules it again).
			hr.trailing = false
			continue
		}
		if hr.wantsCatchAll() {
			hr.startAsking()
			ask = append(ask, hr)
		}
	}
	f := flush{c: c, sent: e.tick()}
	e.mu.Unlock()
	if len(ask) == 0 {
		return
	}
	sts, rs := e.askCatchAll(ctx, c.s, ask)
	e.mu.Lock()
	f.got = e.tick()
	var ctl []*hostRun
	var wires []string
	for i, hr := range ask {
		hr.catchAllAnswer(sts[i], rs[i], f)
		if w := hr.control(); w != "" {
			ctl, wires = append(ctl, hr), append(wires, w)
		}
	}
	f = flush{c: c, sent: e.tick()}
	e.mu.Unlock()
	if len(wires) == 0 || ctx.Err() != nil {
		return
	}
	res := c.s.ProbeFresh(ctx, wires...)
	e.mu.Lock()
	f.got = e.tick()
	for i, hr := range ctl {
		if a, ok := f.answerOf(&res[i], false); ok {
			hr.record(a)
		}
	}
	e.mu.Unlock()
}

// sandwich asks again, on c after a batch, the refusals naming no reason
// that do not count yet, in a new transaction with an address of the
// domain the host accepted after them (the control): refused and then
// accepted in one transaction, the refusal was about the mailbox; if the
// control is refused too, the host refuses everyone now, and the refusals
// wait (see hostRun.retryRefusals). Each refusal is sandwiched once per
// time it is asked.
func (e *engine) sandwich(ctx context.Context, c *conn, runs []*hostRun) {
	type ask struct {
		hr   *hostRun
		jobs []*job
	}
	var asks []ask
	var wires []string
	e.mu.Lock()
	for _, hr := range runs {
		if hr.lastAccepted == "" {
			continue
		}
		var jobs []*job
		for _, j := range hr.decided {
			if j.out.Outcome == smtpprobe.Rejected && j.answered && !j.sandwiched && !hr.counts(j) {
				j.sandwiched = true
				jobs = append(jobs, j)
				wires = append(wires, j.wire)
			}
		}
		if len(jobs) > 0 {
			asks = append(asks, ask{hr, jobs})
			wires = append(wires, hr.lastAccepted)
		}
	}
	f := flush{c: c, sent: e.tick()}
	e.mu.Unlock()
	if len(asks) == 0 {
		return
	}
	// One transaction per domain: each control follows its own domain's
	// refusals.
	res := make([]smtpprobe.Result, 0, len(wires))
	n := 0
	for _, a := range asks {
		res = append(res, c.s.ProbeFresh(ctx, wires[n:n+len(a.jobs)+1]...)...)
		n += len(a.jobs) + 1
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	f.got = e.tick()
	n = 0
	for _, a := range asks {
		for _, j := range a.jobs {
			if res[n].Seq > 0 { // asked and answered: the latest answer decides
				r := res[n]
				j.out = &r
				j.ans, j.answered = f.answerOf(&r, false)
				a.hr.record(j.ans)
			}
			n++
		}
		if ans, ok := f.answerOf(&res[n], false); ok {
			a.hr.record(ans)
		}
		n++
	}
}

// moreFor reports whether jobs wait for hr's mail server. e.mu is held.
func (e *engine) moreFor(hr *hostRun) bool {
	q := e.queues[hr.key]
	return q != nil && len(q.jobs) > 0
}

// askCatchAll asks the catch-all questions of several domains on one
// session, their probes together in one round trip where the server
// pipelines. A first question may be answered from the Detector's cache;
// a question asked again (a trailing probe) is probed now. It runs
// without e.mu.
func (e *engine) askCatchAll(ctx context.Context, s *smtpprobe.Session, runs []*hostRun) ([]catchall.Status, []*smtpprobe.Result) {
	sts := make([]catchall.Status, len(runs))
	rs := make([]*smtpprobe.Result, len(runs))
	var first, again []catchall.Question
	var atFirst, atAgain []int
	for i, hr := range runs {
		q := catchall.Question{Domain: hr.d.name, Host: hr.host.Name}
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
		return sts, rs
	}
	p := e.v.detector.Begin(first)
	addrs := append(p.Addrs(), e.v.detector.ProbeAddrs(again)...)
	res := s.ProbeEach(ctx, addrs...)
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
	return sts, rs
}
