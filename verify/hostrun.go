package verify

import (
	"context"
	"errors"
	"math"
	"slices"
	"time"

	"github.com/mailverify/mailverify/catchall"
	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/mx"
	"github.com/mailverify/mailverify/smtpprobe"
)

// A hostRun is one (domain, MX host) pair of a verification: what that
// host answered for the domain, with where each answer stood (see
// evidence.go), and whether it was shown to accept every recipient. Its
// answers decide only the jobs it answered. The engine's mutex guards it
// and its methods run with it held; the catch-all probes themselves go out
// without it (engine.serve and engine.askCatchAll), with asking set
// meanwhile.
type hostRun struct {
	e    *engine
	d    *domainState
	host mx.Host
	idx  int    // the host's place in the domain's MX order
	last bool   // no other host is tried after this one
	key  string // the politeness key: the address sessions connect to

	known     catchall.Status // the Detector's answer (cached, or from a probe)
	published catchall.Status // the answer told to the Detector
	answers   []answer        // the host's RCPT answers about the domain
	blind     []answer        // random addresses at a flush's front it accepted (canary.go)
	blindCut  uint64          // the latest got of those dropped from blind (see maxBlind)
	asked     bool            // the catch-all question was asked
	asking    bool            // ... and is being asked now
	deferred  bool            // the probe was greylisted: ask again on the retry
	retryDue  bool            // ... which has come
	accepted  bool            // the host accepted a recipient of the domain
	probeYes  bool            // ... or the random address
	probeNo   bool            // it refused the random address in a way that counts
	spell     string          // the latest random address it accepted, unless refused since (fileSpell)
	held      []heldFront     // fronts it deferred, to ask again (heldfront.go)
	pairAt    time.Time       // the front pair's first deferral, and where (zero: none)
	pairAsk   askKey
	schedAt   time.Time // the greylisting schedule's next try as last planned (hostRun.jobDue)
	// The front pair (positional.go): decided, the answers to decide,
	// the addresses of the next, and the address of the domain's
	// catch-all probe where it goes just before the flush planned now
	// (its first), or "".
	paired    bool
	pairAsks  []askKey    // flushes whose first asks a pair asked again decided for (hostRun.pairedFor)
	drawn     [][2]string // pairs drawn afresh for heldFronts, until the host answers them
	pairAns   []answer
	nextPair  [2]string
	pairOut   bool // the pair is in a flush whose answers are not filed yet (sendsPair)
	leads     string
	placeSeen uint64 // the latest got of the answers hostRun.notePlace read

	lastAccepted string              // the latest address of the domain it accepted (a control)
	acceptedSet  map[string]struct{} // the domain's addresses it accepted (hostRun.acceptedBefore)
	randAsked    []randAsk           // the latest random addresses it was asked (hostRun.randomAskedBefore)
	contradicted bool                // it accepted a random address after refusing one (hostRun.softLimit), or an address of the domain (hostRun.noteFlip)
	refusedSet   map[string]struct{} // the domain's addresses it refused in the mailbox's words (hostRun.noteFlip)
	flipped      bool                // it accepted one of them
	// unasked: the egress layer refused the catch-all question (budget,
	// back-off): the acceptances it was to prove end with it (egressVerdict).
	unasked  *egress.UnavailableError
	vague    bool // it refused an address of the domain naming no reason
	trailing bool // a trailing probe waits in the queue (hostQueue.probes)

	pending   int    // jobs queued, in flight or parked here
	contacted bool   // a job of it was queued (the first goes first)
	decided   []*job // answered, not yet sent

	// Greylisting: the parked jobs, when the host first deferred us, the
	// longest wait it stated, the retry plan and its timer.
	parked    []*job
	greySince time.Time
	stated    time.Duration
	sched     *schedule
	timer     *time.Timer
	timerGen  uint64 // the number of the latest timer (see arm)
}

// file takes j's answer from this host.
func (hr *hostRun) file(ctx context.Context, j *job) {
	r := *j.out
	if j.answered {
		hr.record(j.ans)
	}
	if hr.againElsewhere(j) {
		return // a reply about the egress: another one asks
	}
	hr.unreached(ctx, j) // egressverdict.go
	switch {
	case r.Outcome == smtpprobe.Greylisted:
		hr.noteGreylisting(r)
		if j.greyRetried && hr.sched != nil {
			hr.sched.failed()
		}
		if j.greyAt.IsZero() {
			j.greyAt = time.Now()
		}
		hr.parked = append(hr.parked, j)
		j.at = atParked
		hr.e.spill(j, math.MaxInt) // it waits for its retry
		return                     // still pending
	case hostLevel(r.Outcome) && !hr.last && ctx.Err() == nil:
		hr.pending--
		hr.reroute(j)
		return
	}
	if r.Outcome == smtpprobe.Accepted {
		hr.lastAccepted = j.wire
	}
	if !j.greyAt.IsZero() && j.answered && r.Reply != nil && r.Reply.Code/100 != 4 {
		// The first retry that passed tells the server's delay.
		hr.e.v.learnGreylisting(hr.key, time.Since(j.greyAt))
	}
	hr.pending--
	hr.decided = append(hr.decided, j)
	j.at = atDecided
}

// reroute passes j to the domain's next MX host: this one said nothing
// about the mailbox (it failed, refused us or limited us).
func (hr *hostRun) reroute(j *job) {
	if j.earlier == nil && j.out != nil {
		o := *j.out
		j.earlier = &o
	}
	j.first = askKey{} // an ask at this host says nothing of the next (answer.frontsFor)
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
// this session: first, once the host gave an answer it decides (an
// acceptance, a greylisting, a rejection that names no reason); again
// when an acceptance waits for a refusal after it (the trailing probe);
// or when a greylisted probe is due again.
func (hr *hostRun) wantsCatchAll() bool {
	switch {
	case hr.asking:
		return false
	case hr.deferred:
		return hr.retryDue // a greylisted probe waits for its retry
	case hr.asked:
		for _, j := range hr.decided {
			if hr.needsTrailer(j) {
				return true
			}
		}
		return false
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

// startAsking marks the question as being asked. The acceptances a
// trailing probe can prove are marked by askTrailing.
func (hr *hostRun) startAsking() {
	hr.asking, hr.trailing = true, false
}

// catchAllAnswer records the probe's answer, given in f: st is the
// Detector's reading (cached when r is nil).
func (hr *hostRun) catchAllAnswer(st catchall.Status, r *smtpprobe.Result, f flush) {
	retried := hr.retryDue
	wasNo := hr.probeNo && !hr.probeYes // a canary was refused here
	hr.asked, hr.asking, hr.deferred, hr.retryDue = true, false, false, false
	if st != catchall.Unknown && hr.known != catchall.Yes {
		hr.known = st
	}
	if r == nil {
		return
	}
	if a, ok := f.answerOf(r, true); ok {
		hr.record(a)
	}
	hr.accepts(r)
	if wasNo && r.Outcome == smtpprobe.Accepted && !hr.consumer() {
		hr.softLimit(f, r) // the host has started to accept everyone
	}
	hr.probeAboutEgress(r)
	hr.unasked = nil // a question let out since answers for itself
	if ue := (*egress.UnavailableError)(nil); errors.As(r.Err, &ue) {
		hr.unasked = ue
	}
	switch r.Outcome {
	case smtpprobe.ConnectionFailed, smtpprobe.Timeout, smtpprobe.ProtocolError:
		hr.asked = false // the session failed, not the question: ask on the next
	case smtpprobe.Greylisted:
		hr.deferred = true
		hr.noteGreylisting(*r)
		if retried && hr.sched != nil {
			hr.sched.failed()
		}
	}
}

// control returns the address to ask right after the random one, in the
// same flush and transaction, where the host refuses with replies that
// name no reason: accepted there, it shows that the probe's refusal was
// about the random address. "" when the host has not refused so, or has
// accepted no address of the domain yet.
func (hr *hostRun) control() string {
	if !hr.vague {
		return ""
	}
	return hr.lastAccepted
}

// publish tells the Detector a catch-all answer the host's answers
// established, for later runs (an answer there is never more than a
// starting point: acceptances still need a refusal after them).
func (hr *hostRun) publish() {
	st := hr.catchAllStatus()
	if st == catchall.Unknown || st == hr.published || st == hr.known {
		return
	}
	hr.published = st
	hr.e.v.detector.Record(hr.d.name, hr.host.Name, st)
}

// afterBatch parks what was greylisted, sends what is settled, and, once
// nothing of the domain is left on this host, settles the rest. It
// returns the jobs to send.
func (hr *hostRun) afterBatch() []*job {
	hr.notePlace()
	hr.publish()
	out := hr.e.takePendingSends()
	if len(hr.parked) > 0 || hr.deferred {
		out = append(out, hr.park()...)
	}
	final := hr.pending == 0 && !hr.deferred
	if final && hr.e.ctx.Err() == nil {
		hr.retryRefusals()
		out = append(out, hr.e.takePendingSends()...)
		final = hr.pending == 0
	}
	return append(out, hr.emitReady(final)...)
}

// retryRefusals handles the refusals that name no reason and do not
// count, once nothing else of the domain is left on this host. Where the
// host refused every recipient alike, the policy is about us and another
// host may not share it: they move on to the next host. Otherwise the
// refusals began after acceptances (a recipient cap, harvest protection):
// each is asked once more on a fresh connection. e.mu is held.
func (hr *hostRun) retryRefusals() {
	alike := !hr.accepted && hr.catchAllStatus() != catchall.Yes
	var again []*job
	keep := hr.decided[:0]
	for _, j := range hr.decided {
		// A specific refusal that does not count is asked again like one
		// that names no reason, on a fresh connection, where it may be
		// the first refusal (answer.counts); refused alike, it is still
		// about the mailbox there.
		vague := j.out.Outcome == smtpprobe.Rejected
		switch {
		case !refusal(j.out.Outcome) || hr.counts(j):
			keep = append(keep, j)
		case alike && vague && !hr.last:
			hr.reroute(j)
		case !j.reasked && (!alike || !vague) && (vague || hr.controlFor(j.out.Outcome)):
			j.reasked, j.sandwiched = true, false
			hr.e.queue(hr).renew = true
			again = append(again, j)
		default:
			keep = append(keep, j)
		}
	}
	hr.decided = keep
	for _, j := range again {
		hr.requeue(j)
	}
}

// requeue asks j, decided here, again: it leaves hr.decided, is pending
// here once more, and goes to the back of the host's queue unless it is
// there already (hostRun.againElsewhere queues it for another egress).
// e.mu is held.
func (hr *hostRun) requeue(j *job) {
	hr.decided = slices.DeleteFunc(hr.decided, func(x *job) bool { return x == j })
	hr.pending++
	if j.at == atQueue {
		return
	}
	q := hr.e.queue(hr)
	q.jobs = append(q.jobs, j)
	j.at = atQueue
	hr.e.wake(q)
}

// emitReady returns the decided jobs whose verdict is settled, with it.
// An acceptance waits while a catch-all probe is in flight or greylisted,
// and for its trailing probe (scheduled here if it has none yet);
// refusals that name no reason wait for evidence until final.
func (hr *hostRun) emitReady(final bool) []*job {
	var out []*job
	live := hr.e.ctx.Err() == nil
	keep := hr.decided[:0]
	for _, j := range hr.decided {
		switch o := j.out.Outcome; {
		case o == smtpprobe.Accepted && hr.waits(j, live):
			keep = append(keep, j)
		case refusal(o) && !final && live && !hr.counts(j):
			keep = append(keep, j)
		default:
			out = append(out, hr.emit(j))
		}
	}
	hr.decided = keep
	return out
}

// waits reports whether an acceptance is still to wait for evidence,
// scheduling its trailing probe when it has none coming.
func (hr *hostRun) waits(j *job, live bool) bool {
	if !live || hr.catchAllStatus() == catchall.Yes || hr.proven(j) {
		return false
	}
	if hr.asking || hr.deferred {
		return true
	}
	if !hr.needsTrailer(j) {
		return false
	}
	if !hr.trailing {
		hr.trailing = true
		q := hr.e.queue(hr)
		q.probes = append(q.probes, hr)
		hr.e.wake(q)
	}
	return true
}

// emit settles j and takes it out of the engine. e.mu is held.
func (hr *hostRun) emit(j *job) *job {
	hr.settle(j)
	hr.e.v.verdict(j)
	finish([]*job{j})
	hr.e.forget(j)
	return j
}

// settle gives j the host's catch-all answer and turns a rejection that
// names no reason into a verdict: mailbox_not_found when it counts (see
// evidence.go), blocked (a policy, a limit) when it does not. An
// acceptance that is not proven gets catch_all unknown.
func (hr *hostRun) settle(j *job) {
	st := hr.catchAllStatus()
	j.res.CatchAll = st
	switch j.out.Outcome {
	case smtpprobe.Accepted:
		if st == catchall.No && !hr.proven(j) {
			j.res.CatchAll = catchall.Unknown
			hr.byPlace(j) // why, where that is the cause
		}
	case smtpprobe.Rejected:
		o := *j.out
		o.Outcome = smtpprobe.Blocked
		if hr.counts(j) {
			o.Outcome = smtpprobe.MailboxNotFound
		}
		j.out = &o
	case smtpprobe.MailboxNotFound, smtpprobe.MailboxDisabled, smtpprobe.MailboxFull:
		if !hr.counts(j) { // a harvest protection may say so of everyone
			o := *j.out
			o.Outcome = smtpprobe.Blocked
			o.Err = hr.uncontrolled()
			j.out = &o
		}
	}
}

// An uncontrolledError is why a refusal in the mailbox's own words (550
// 5.1.1, 5.2.1, 552 5.2.2) ended unknown/blocked: no control after it
// showed it was about the mailbox, not a harvest protection refusing
// everyone (see evidence.go).
type uncontrolledError struct {
	Domain string
	// PostmasterRefused: the host refused postmaster@ (RFC 5321, section
	// 4.5.1, asks every domain to accept it), so no control went after
	// the refusal, and no address of the domain it accepted for the first
	// time came after it in its transaction either.
	PostmasterRefused bool
}

func (e *uncontrolledError) Error() string {
	if e.PostmasterRefused {
		return "verify: the refusal may be a harvest protection's: the server refuses postmaster@" + e.Domain +
			", the control that shows a refusal is about the mailbox, and accepted no new address of the domain after it"
	}
	return "verify: the refusal may be a harvest protection's: no control (postmaster@" + e.Domain +
		", or a new address of the domain) was accepted after it in its transaction"
}

// uncontrolled says why a refusal in the mailbox's words does not
// count. e.mu is held.
func (hr *hostRun) uncontrolled() error {
	return &uncontrolledError{Domain: hr.d.name, PostmasterRefused: !hr.postmasterAsked()}
}
