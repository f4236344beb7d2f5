package verify

import (
	"context"
	"errors"
	"time"

	"github.com/mailverify/mailverify/catchall"
	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/smtpprobe"
)

// jobEgress is what the egress layer decided about a job.
type jobEgress struct {
	moves int       // times it was asked again elsewhere after a reply about the egress
	soft  bool      // its acceptance was covered by an accepted canary (soft limit)
	until time.Time // when the egress's back-off ends, for retry_after
	// unreached: the failure at an MX host no egress could reach (see
	// hostRun.unreached), and that host
	unreached     *smtpprobe.Result
	unreachedHost string
}

// aboutEgress rewrites an RCPT refusal whose reply is about the egress
// (a block, a throttle: egress.Classify) or about the receiver's own
// misconfiguration, so that it is never a verdict on the mailbox: blocked,
// rate_limited or temporary_failure, whatever its code said. Replies smtpprobe reads as
// mailbox answers (5.1.1, a generic 550) are rewritten too when their text
// names the egress (a Spamhaus listing in a 550 5.1.1).
func aboutEgress(r *smtpprobe.Result) {
	if r.Reply == nil || r.Reply.Code < 400 {
		return
	}
	switch r.Outcome {
	case smtpprobe.MailboxNotFound, smtpprobe.MailboxDisabled, smtpprobe.MailboxFull, smtpprobe.Rejected, smtpprobe.DomainRejectsMail:
	case smtpprobe.Blocked:
		receiverFault(r)
		return
	default:
		return // already no verdict on the mailbox
	}
	switch classifyResult(r).Verdict {
	case egress.Blocked:
		r.Outcome = smtpprobe.Blocked
	case egress.Throttled:
		r.Outcome = smtpprobe.RateLimited
	case egress.ReceiverMisconfigured:
		receiverFault(r)
	}
}

// receiverFault rewrites r, a refusal, where its reply tells of the
// receiving server's own misconfiguration: not about us (reason blocked
// says our IP or HELO is refused), the server refuses every sender until
// it is mended: unknown/temporary_failure, with a ReceiverError.
func receiverFault(r *smtpprobe.Result) {
	if r.Reply == nil || r.Reply.Code < 400 {
		return
	}
	if f := classifyResult(r); f.Verdict == egress.ReceiverMisconfigured {
		r.Outcome = smtpprobe.TemporaryFailure
		r.Err = &ReceiverError{Rule: f.Rule, Meaning: f.Meaning, Err: r.Err}
	}
}

// ReceiverError is the error of an address whose server refused it for
// its own fault (egress.ReceiverMisconfigured: a blocklist asked through a
// public resolver, a dead blocklist, a failed lookup of its own): every
// sender is refused alike until it is mended, so the address is
// unknown/temporary_failure, and the egress is not marked.
type ReceiverError struct {
	Rule    string // the egress rule that matched the reply
	Meaning string // what the reply means
	Err     error  // the probe's own error, if any
}

func (e *ReceiverError) Error() string {
	return "the receiving server is misconfigured (" + e.Rule + "): " + e.Meaning
}

func (e *ReceiverError) Unwrap() error { return e.Err }

// classifyResult reads r's reply for what it says about the egress.
func classifyResult(r *smtpprobe.Result) egress.Finding {
	stage := egress.StageRcpt
	if r.Seq == 0 {
		// The command that ended the session: the banner, EHLO or MAIL.
		stage = egress.StageMail
		var re *smtpprobe.ReplyError
		if errors.As(r.Err, &re) {
			stage = egress.StageOf(re.Cmd)
		}
	}
	return egress.Classify(egress.Reply{Stage: stage, Code: r.Reply.Code, Enhanced: r.Reply.Enhanced.String(), Text: r.Reply.Text()})
}

// againElsewhere puts j back in its host's queue when its answer was a
// reply about the egress (a block or a throttle) and other egresses may
// serve: the session that drew it is closed before the next batch
// (Verifier.egressFits), and the next is routed to a healthy egress, or
// waits for one within the job's budget, or ends unknown (blocked or
// rate_limited, with retry_after). Each job moves at most once per egress.
// e.mu is held.
func (hr *hostRun) againElsewhere(j *job) bool {
	v := hr.e.v
	r := j.out
	if v.eg.router == nil || r.Reply == nil || j.eg.moves >= len(v.Egresses) || hr.e.ctx.Err() != nil {
		return false
	}
	if !classifyResult(r).Verdict.Against() {
		return false
	}
	j.eg.moves++
	j.answered = false
	q := hr.e.queue(hr)
	q.jobs = append(q.jobs, j)
	j.at = atQueue
	hr.e.wake(q)
	return true
}

// unreached keeps, as j moves on to its domain's next MX host, a failure
// that says only that no egress could reach this one (all blocked, backed
// off or out of budget: an *egress.UnavailableError; or a reply about the
// egress when no other egress was left to ask). Where j then ends
// with no answer about the mailbox (a host-level failure, such as a dead
// host's connection_failed), it ends with that failure instead: a host of
// the domain was never tried, and through another egress (another
// worker's) it may answer, so the address waits or moves (unknown/blocked
// or rate_limited, with retry_after) rather than ending at a host that
// does not answer (RFC 5321 section 5.1: the next MX host is tried). e.mu
// is held.
func (hr *hostRun) unreached(ctx context.Context, j *job) {
	var ue *egress.UnavailableError
	switch {
	case errors.As(j.out.Err, &ue) || hr.e.v.eg.router != nil && j.out.Reply != nil && classifyResult(j.out).Verdict.Against():
		if j.eg.unreached == nil {
			j.eg.unreached, j.eg.unreachedHost = j.out, hr.host.Name
		}
	case j.eg.unreached != nil && hostLevel(j.out.Outcome) && (hr.last || ctx.Err() != nil):
		j.out, j.host = j.eg.unreached, j.eg.unreachedHost
	}
}

// probeAboutEgress handles a catch-all probe whose reply was about the
// egress (a throttle, a block): it said nothing about the domain, so the
// acceptances it was to follow wait for another, asked through another
// egress (trails asks them again before it). e.mu is held.
func (hr *hostRun) probeAboutEgress(r *smtpprobe.Result) {
	if hr.e.v.eg.router == nil || r.Reply == nil || !classifyResult(r).Verdict.Against() {
		return
	}
	hr.asked = false
	for _, j := range hr.decided {
		if j.out.Outcome == smtpprobe.Accepted && j.trailed && j.eg.moves < len(hr.e.v.Egresses) {
			j.trailed = false
			j.eg.moves++
		}
	}
}

// softLimit handles a canary (a random address of the domain) accepted on
// a host that had refused one: the host now accepts everyone, from this
// egress at least. The acceptances it covers (those not proven before)
// end unknown/soft_limited, the domain's catch-all answer is dropped (it
// is asked again), and the session's egress is marked soft-limited for
// the provider. e.mu is held.
func (hr *hostRun) softLimit(f flush, r *smtpprobe.Result) {
	v := hr.e.v
	// The host has both refused and accepted random addresses of the
	// domain: whether a rate limit or a server that accepts addresses
	// that do not exist at random (to poison harvested lists), no
	// acceptance of the domain at this host is proven from now on
	// (hostRun.proven); those given before stand.
	hr.contradicted = true
	hr.probeYes, hr.probeNo, hr.asked = false, false, false
	hr.known, hr.published = catchall.Unknown, catchall.Unknown
	v.detector.Forget(hr.d.name, hr.host.Name)
	until := time.Now().Add(2 * time.Minute)
	if sl := v.sessionLeaseOf(f.c.s); sl != nil {
		rep := egress.Reply{Stage: egress.StageRcpt}
		if r.Reply != nil {
			rep.Code, rep.Enhanced, rep.Text = r.Reply.Code, r.Reply.Enhanced.String(), r.Reply.Text()
		}
		_ = sl.lease.SoftLimited(hr.host.Name, rep)
		if rec, err := v.eg.router.Health().State(sl.lease.Key); err == nil && rec.Until.After(until) {
			until = rec.Until
		}
	}
	for _, j := range hr.decided {
		if j.out.Outcome == smtpprobe.Accepted && !hr.proven(j) {
			j.eg.soft, j.eg.until = true, until
		}
	}
}

// egressVerdict gives the verdicts the egress layer decides: an
// acceptance a soft limit covered is unknown/soft_limited; an address no
// egress could carry is unknown/blocked or unknown/rate_limited, with
// retry_after from the earliest back-off or budget refill.
func (v *Verifier) egressVerdict(j *job) {
	r := &j.res
	if j.eg.soft && r.Status != Deliverable && j.out != nil && j.out.Outcome == smtpprobe.Accepted {
		r.Status, r.Reason, r.CatchAll = Unknown, ReasonSoftLimited, catchall.Unknown
		r.RetryAfter = retryIn(j.eg.until)
		return
	}
	if r.Reason == ReasonCannotVerify && j.run != nil && j.run.unasked != nil && j.out != nil && j.out.Outcome == smtpprobe.Accepted {
		// Accepted, but the question that would prove it was not let
		// out: the budget or a back-off, not the server, left it open.
		ue := j.run.unasked
		r.Status, r.Reason = Unknown, ReasonRateLimited
		if ue.Blocked || ue.NoEgress {
			r.Reason = ReasonBlocked
		}
		r.RetryAfter = retryIn(ue.Until)
		return
	}
	if j.out == nil || j.out.Err == nil {
		return
	}
	var ue *egress.UnavailableError
	var pe *egress.Port25Error
	switch {
	case errors.As(j.out.Err, &ue):
		r.Status, r.Reason = Unknown, ReasonRateLimited
		if ue.Blocked || ue.NoEgress {
			r.Reason = ReasonBlocked
		}
		r.RetryAfter = retryIn(ue.Until)
	case errors.As(j.out.Err, &pe):
		r.Status, r.Reason = Unknown, ReasonConnectionFailed
	}
}

// retryIn is the wait until t, at least a second; zero for no time.
func retryIn(t time.Time) Seconds {
	if t.IsZero() {
		return 0
	}
	return Seconds(max(time.Until(t), time.Second))
}
