package verify

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/mailverify/mailverify/smtpprobe"
)

// A harvest protection answers everyone alike once we asked for enough
// unknown recipients: with a generic 550, or in the mailbox's own words
// (550 5.1.1), per connection, per transaction, per recipient domain or
// per client. A refusal is about its mailbox only where no such
// protection can have begun before it (answer.counts, and below).

// postmasterControl is the control after a domain's specific refusals
// when the host has accepted no address of the domain to ask after them
// (most domains of a B2B list have one address): postmaster@ the domain
// of j's address (its wire form), which RFC 5321 (section 4.5.1)
// requires every domain to accept.
func postmasterControl(j *job) string {
	return "postmaster" + j.wire[strings.LastIndexByte(j.wire, '@'):]
}

// pmSeen is how a server answered the postmaster@ controls so far.
type pmSeen uint8

const (
	pmAccepted pmSeen = 1 << iota
	pmRefused
)

// postmasterAsked reports whether postmaster@ is worth asking as a
// control at hr's server: not once it refused it and never accepted it
// (many servers refuse it, RFC 5321 or not: each ask would be an error
// drawn for no verdict, and a fresh connection for nothing). e.mu is
// held.
func (hr *hostRun) postmasterAsked() bool {
	return hr.e.pmSeen[hr.key] != pmRefused
}

// controlFor reports whether a refusal with outcome o of hr's domain can
// be followed by a control: for a specific one, postmaster@ where it is
// worth asking (an address the host accepted before is what a protection
// sparing its known recipients keeps accepting, so it makes no specific
// refusal count, see hostRun.record); for one naming no reason, an
// address the host accepted. e.mu is held.
func (hr *hostRun) controlFor(o smtpprobe.Outcome) bool {
	if specific(o) {
		return hr.postmasterAsked()
	}
	return hr.lastAccepted != ""
}

// postmasterAnswer makes count the specific refusals of jobs that
// postmaster@ the domain, accepted (r), followed in their transaction and
// flush. It is no acceptance of the domain's otherwise: a refusal that
// names no reason does not count by it (a policy that refuses us still
// accepts postmaster, as RFC 5321 asks), and it is no control for later
// refusals (hostRun.lastAccepted) nor the host's acceptance of the domain
// (hostRun.accepted).
func postmasterAnswer(f flush, hr *hostRun, jobs []*job, r *smtpprobe.Result) {
	a, ok := f.answerOf(r, false)
	if !ok {
		return
	}
	if a.o != smtpprobe.Accepted {
		if refusal(a.o) { // a 4xx (greylisting, a rate limit on us) is no refusal of postmaster@
			hr.e.pmSeen[hr.key] |= pmRefused
		}
		return
	}
	hr.e.pmSeen[hr.key] |= pmAccepted
	for _, j := range jobs {
		if j.answered && specific(j.out.Outcome) && j.ans.before(a) {
			j.counted = true
		}
	}
}

// before reports whether r, a refusal, came before a, an acceptance, where
// the server cannot have switched from refusing everyone to judging in
// between: in one transaction and one flush (one write reaches the server
// at once). Without pipelining every command is a round trip of its own
// (and each may wait for the server's pace), so a specific refusal may
// come in an earlier command of the transaction: a spell of refusing
// everyone in the mailbox's words that ends between two commands stays
// assumed there (doc.go); a generic refusal still needs the same flush.
func (r answer) before(a answer) bool {
	if r.seq >= a.seq {
		return false
	}
	return r.sameFlush(a) || r.sameTx(a) && specific(r.o) && !r.piped && !a.piped
}

// A flushControl is one domain's control at the very end of a batch's
// flush, on a server that pipelines: an address of the domain the host
// accepted before, or postmaster@ the domain where it has accepted none.
// Accepted there, it makes the domain's refusals in the flush count
// without a round trip of their own (engine.sandwich).
type flushControl struct {
	hr   *hostRun
	addr string
	pm   bool // postmaster (postmasterAnswer)
	res  smtpprobe.Result
}

type flushControls []flushControl

// controls plans the controls of batch: one for each of its domains that
// has a canary (batchPlan.add left them room), unless the canary carries
// a control already. e.mu is held.
func (e *engine) controls(inline bool, batch []*job, cans []canary) flushControls {
	if !inline {
		return nil
	}
	var cs flushControls
	for _, j := range batch {
		hr := j.run
		if !e.trailerDue(hr) || slices.ContainsFunc(cs, func(c flushControl) bool { return c.hr == hr }) ||
			slices.ContainsFunc(cans, func(c canary) bool { return c.hr == hr && c.ctl != "" }) {
			continue
		}
		// postmaster@ first: an address the host accepted before is what a
		// protection sparing its known recipients keeps accepting, so it
		// makes only generic refusals count (hostRun.record).
		switch {
		case hr.postmasterAsked():
			cs = append(cs, flushControl{hr: hr, addr: postmasterControl(j), pm: true})
		case hr.acceptedControl():
			cs = append(cs, flushControl{hr: hr, addr: hr.lastAccepted})
		}
	}
	return cs
}

// acceptedControl reports whether the flush's control of hr's domain,
// where postmaster@ is not asked, is an address the host accepted before:
// it makes only refusals naming no reason count (hostRun.record), so it
// goes only to a server seen to refuse so. At one that refuses naming the
// reason (5.1.1), it would be an RCPT for nothing. e.mu is held.
func (hr *hostRun) acceptedControl() bool {
	return hr.lastAccepted != "" && hr.e.refusals[hr.key]&refusedVaguely != 0
}

// flushControlDue reports whether a batch's flush carries a control of
// hr's domain after its canary (the canary's own, hostRun.control, or the
// flush's, engine.controls): the room batchPlan.add holds for it. e.mu is
// held.
func (hr *hostRun) flushControlDue() bool {
	return hr.control() != "" || hr.postmasterAsked() || hr.acceptedControl()
}

func (cs flushControls) wires() []string {
	w := make([]string, len(cs))
	for i, c := range cs {
		w[i] = c.addr
	}
	return w
}

// take keeps the controls' results, the last of the flush's.
func (cs flushControls) take(res []smtpprobe.Result) {
	k := len(res) - len(cs)
	for i := range cs {
		cs[i].res = res[k+i]
	}
}

// file records the controls' answers. e.mu is held.
func (cs flushControls) file(f flush, batch []*job) {
	for _, c := range cs {
		if !c.pm {
			if a, ok := f.answerOf(&c.res, false); ok {
				c.hr.record(a)
			}
			continue
		}
		var jobs []*job
		for _, j := range batch {
			if j.run == c.hr && !j.expired {
				jobs = append(jobs, j)
			}
		}
		postmasterAnswer(f, c.hr, jobs, &c.res)
	}
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
		pm   bool // the control is postmaster@ the domain (postmasterControl)
	}
	var asks []ask
	var wires []string
	e.mu.Lock()
	// Without pipelining, an acceptance later in the transaction makes a
	// specific refusal count (answer.before): those wait while the
	// domain has more to ask here.
	later := !pipelines(c.s)
	// The refusals asked again draw errors: a group the connection's
	// error budget would split from its control waits for the fresh
	// connection (hostRun.retryRefusals).
	_, budget := c.s.TxRoom()
	for _, hr := range runs {
		// One control per domain: postmaster@ after specific refusals, an
		// accepted address after those naming no reason (controlFor); the
		// first refusal picks which, the others wait for the next batch.
		ctl, pm := "", false
		wait := later && hr.pending > 0
		var jobs []*job
		for _, j := range hr.decided {
			if refusal(j.out.Outcome) && j.answered && !j.sandwiched && !hr.counts(j) && hr.controlFor(j.out.Outcome) &&
				!(wait && specific(j.out.Outcome)) && (ctl == "" || pm == specific(j.out.Outcome)) {
				j.sandwiched = true
				if ctl == "" && specific(j.out.Outcome) {
					ctl, pm = postmasterControl(j), true
				} else if ctl == "" {
					ctl = hr.lastAccepted
				}
				jobs = append(jobs, j)
				wires = append(wires, j.wire)
			}
		}
		if budget > 0 && len(jobs) >= budget {
			for _, j := range jobs {
				j.sandwiched = false
			}
			wires = wires[:len(wires)-len(jobs)]
			continue
		}
		if len(jobs) > 0 {
			budget -= len(jobs)
			asks = append(asks, ask{hr, jobs, pm})
			wires = append(wires, ctl)
		}
	}
	f := flush{c: c, sent: e.tick()}
	e.mu.Unlock()
	if len(asks) == 0 {
		return
	}
	// Each control follows its own domain's refusals; the domains share a
	// transaction (and a flush) while it has room: one round trip for the
	// batch, not one a domain.
	capacity, _ := c.s.FreshRoom()
	res := make([]smtpprobe.Result, 0, len(wires))
	n, m := 0, 0
	for _, a := range asks {
		if k := len(a.jobs) + 1; m > n && m+k-n > capacity {
			res = append(res, c.s.ProbeFresh(ctx, wires[n:m]...)...)
			n = m
		}
		m += len(a.jobs) + 1
	}
	res = append(res, c.s.ProbeFresh(ctx, wires[n:m]...)...)
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
				j.ans = a.hr.filed(j) // asked again: it fronts only what was asked before it (answer.frontsFor)
				a.hr.record(j.ans)
				if e.aboutTheEgress(&r) && a.hr.againElsewhere(j) {
					// A throttle or block of the egress says nothing of the
					// mailbox: another egress asks (TestCLIEgressThrottled).
					a.hr.requeue(j)
				}
			}
			n++
		}
		if a.pm {
			postmasterAnswer(f, a.hr, a.jobs, &res[n])
		} else if ans, ok := f.answerOf(&res[n], false); ok {
			a.hr.record(ans)
		}
		n++
	}
}

// errFlipped is the error of an acceptance at a host that accepted an
// address of the domain it had refused as having no mailbox.
var errFlipped = errors.New("the server accepted an address of the domain it had refused as having no mailbox: its answers are not about the mailbox (a harvest protection sparing the recipients it accepted before), so no acceptance of the domain there is proven")

// noteFlip notes the domain's addresses the host refused in the
// mailbox's words (no such mailbox, disabled) and whether it then
// accepted one. A server that said a mailbox does not exist and later
// accepts it answers by something other than the mailbox: a harvest
// protection whose spell refuses every new recipient and spares those it
// accepted before, whose lies to our random addresses made a catch-all
// domain look judged, and whose spared acceptances stand between its lies
// (TestHarvestSparesAcceptedWithoutPipelining). From then on no
// acceptance of the domain at the host is proven (hostRun.proven), in
// later calls of the Verifier too (hostRun.recall); those given before
// stand. The set holds as many addresses as the domain's
// jobs at most. e.mu is held.
func (hr *hostRun) noteFlip(a answer) {
	if a.probe || a.rcpt == "" {
		return
	}
	switch a.o {
	case smtpprobe.MailboxNotFound, smtpprobe.MailboxDisabled:
		if hr.refusedSet == nil {
			hr.refusedSet = make(map[string]struct{})
		}
		hr.refusedSet[a.rcpt] = struct{}{}
	case smtpprobe.Accepted:
		if _, ok := hr.refusedSet[a.rcpt]; ok && !hr.flipped {
			hr.flipped, hr.contradicted = true, true
			hr.e.v.noteFlipped(hr.key, hr.d.name)
		}
	}
}
