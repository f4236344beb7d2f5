package verify

import (
	"context"
	"time"

	"github.com/mailverify/mailverify/catchall"
	"github.com/mailverify/mailverify/mx"
	"github.com/mailverify/mailverify/smtpprobe"
)

// A hostRun is one (domain, MX host) pair of a verification: what that
// host answered for the domain, and whether it was shown to accept every
// recipient. Its answers decide only the jobs it answered: an acceptance
// is deliverable only when the same host rejected the random catch-all
// address. The engine's mutex guards it and its methods run with it held;
// the catch-all probes themselves go out without it (engine.serve and
// engine.askCatchAll), with asking set meanwhile.
type hostRun struct {
	e    *engine
	d    *domainState
	host mx.Host
	idx  int    // the host's place in the domain's MX order
	last bool   // no other host is tried after this one
	key  string // the politeness key: the address sessions connect to

	catchAll      catchall.Status // for (domain, host)
	asked         bool            // the catch-all question was asked
	asking        bool            // ... and is being asked now
	deferred      bool            // the probe was greylisted: ask again on the retry
	retryDue      bool            // ... which has come
	probeRejected bool            // the probe got a rejection that names no reason
	accepted      bool            // the host accepted a recipient of the domain

	pending int    // jobs queued, in flight or parked here
	decided []*job // answered, not yet sent

	// Greylisting: the parked jobs, when the host first deferred us, the
	// longest wait it stated, the retry plan and its timer.
	parked    []*job
	greySince time.Time
	stated    time.Duration
	sched     *schedule
	timer     *time.Timer
}

// file takes j's answer from this host.
func (hr *hostRun) file(ctx context.Context, j *job) {
	r := *j.out
	switch {
	case r.Outcome == smtpprobe.Greylisted:
		hr.noteGreylisting(r)
		if j.greyAt.IsZero() {
			j.greyAt = time.Now()
		}
		hr.parked = append(hr.parked, j)
		return // still pending
	case hostLevel(r.Outcome) && !hr.last && ctx.Err() == nil:
		hr.pending--
		hr.reroute(j)
		return
	case r.Outcome == smtpprobe.Accepted:
		hr.sawAcceptance()
	}
	hr.pending--
	hr.decided = append(hr.decided, j)
}

// reroute passes j to the domain's next MX host: this one said nothing
// about the mailbox (it failed, refused us or limited us).
func (hr *hostRun) reroute(j *job) {
	next := hr.d.run(hr.e, hr.idx+1)
	hr.e.pendingSends = append(hr.e.pendingSends, hr.e.enqueue(next, j)...)
}

func (hr *hostRun) noteGreylisting(r smtpprobe.Result) {
	if hr.greySince.IsZero() {
		hr.greySince = time.Now()
	}
	if r.Reply != nil {
		if d, ok := smtpprobe.RetryDelay(*r.Reply); ok && d > hr.stated {
			hr.stated = d
		}
	}
}

// wantsCatchAll reports whether the catch-all question is to be asked on
// this session: the host gave an answer it decides (an acceptance, a
// greylisting, a rejection that names no reason), or a greylisted probe is
// due again.
func (hr *hostRun) wantsCatchAll() bool {
	if hr.asking || hr.asked && !hr.deferred {
		return false
	}
	if hr.deferred {
		return hr.retryDue // a greylisted probe waits for its retry
	}
	if hr.accepted || len(hr.parked) > 0 {
		return true
	}
	for _, j := range hr.decided {
		if j.out.Outcome == smtpprobe.Rejected {
			return true
		}
	}
	return false
}

// catchAllAnswer records the probe's answer.
func (hr *hostRun) catchAllAnswer(st catchall.Status, r *smtpprobe.Result) {
	hr.asked, hr.deferred, hr.catchAll, hr.retryDue = true, false, st, false
	if r == nil {
		return
	}
	switch r.Outcome {
	case smtpprobe.ConnectionFailed, smtpprobe.Timeout, smtpprobe.ProtocolError:
		hr.asked = false // the session failed, not the question: ask on the next
	case smtpprobe.Greylisted:
		hr.deferred = true
		hr.noteGreylisting(*r)
	case smtpprobe.Rejected:
		hr.probeRejected = true
		if hr.accepted {
			hr.sawAcceptance()
		}
	case smtpprobe.Accepted:
		hr.accepted = true
	}
}

// sawAcceptance notes that the host accepted a recipient of the domain.
// A host that accepts some recipients and refuses the random address with
// a reply that names no reason still tells them apart: it is not
// catch-all.
func (hr *hostRun) sawAcceptance() {
	hr.accepted = true
	if hr.probeRejected && hr.catchAll == catchall.Unknown {
		hr.catchAll = catchall.No
		hr.e.v.detector.Record(hr.d.name, hr.host.Name, catchall.No)
	}
}

// afterBatch parks what was greylisted, sends what is settled, and, once
// nothing of the domain is left on this host, settles the rest. It
// returns the jobs to send.
func (hr *hostRun) afterBatch() []*job {
	out := hr.e.takePendingSends()
	if len(hr.parked) > 0 || hr.deferred {
		out = append(out, hr.park()...)
	}
	final := hr.pending == 0 && !hr.deferred
	if final && !hr.last && !hr.evidence() && hr.e.ctx.Err() == nil {
		// The host refused every recipient alike: a policy about us,
		// which another host may not share.
		keep := hr.decided[:0]
		for _, j := range hr.decided {
			if j.out.Outcome == smtpprobe.Rejected {
				hr.reroute(j)
			} else {
				keep = append(keep, j)
			}
		}
		hr.decided = keep
		out = append(out, hr.e.takePendingSends()...)
	}
	return append(out, hr.emitReady(final)...)
}

// emitReady returns the decided jobs whose verdict is settled, with it.
// Accepted jobs wait while the catch-all answer is still to come (the
// probe is in flight on another session, or was greylisted); rejections that name no reason wait for
// differential evidence until final.
func (hr *hostRun) emitReady(final bool) []*job {
	var out []*job
	keep := hr.decided[:0]
	for _, j := range hr.decided {
		switch o := j.out.Outcome; {
		case o == smtpprobe.Accepted && (hr.deferred || hr.asking):
			keep = append(keep, j)
		case o == smtpprobe.Rejected && !final && !hr.evidence():
			keep = append(keep, j)
		default:
			hr.settle(j)
			hr.e.v.verdict(j)
			finish([]*job{j})
			hr.e.forget(j)
			out = append(out, j)
		}
	}
	hr.decided = keep
	return out
}

// evidence reports whether the host was seen telling recipients apart:
// it accepted one, or accepted the random address. A rejection that names
// no reason is then about the mailbox.
func (hr *hostRun) evidence() bool {
	return hr.accepted || hr.catchAll == catchall.Yes
}

// settle gives j the host's catch-all answer and turns a rejection that
// names no reason into a verdict: mailbox_not_found when the host told
// recipients apart, blocked (a policy refusing every recipient alike)
// when it did not.
func (hr *hostRun) settle(j *job) {
	j.res.CatchAll = hr.catchAll
	if j.out.Outcome != smtpprobe.Rejected {
		return
	}
	o := *j.out
	o.Outcome = smtpprobe.Blocked
	if hr.evidence() {
		o.Outcome = smtpprobe.MailboxNotFound
	}
	j.out = &o
}
