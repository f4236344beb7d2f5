package verify

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/mailverify/mailverify/catchall"
	"github.com/mailverify/mailverify/mx"
	"github.com/mailverify/mailverify/smtpprobe"
)

// domainRun is the SMTP part of one domain's verification.
type domainRun struct {
	v      *Verifier
	domain string
	mr     mx.Result
	send   func(*job)
}

// emit gives a decided job its verdict and sends it.
func (d *domainRun) emit(j *job) {
	d.v.verdict(j)
	finish([]*job{j})
	d.send(j)
}

// A hostRun is one MX host's part of a domain's verification: what that
// host answered, and whether that host was shown to accept every
// recipient. Its answers decide only the jobs it answered: an acceptance
// is deliverable only when the same host rejected the random catch-all
// address.
type hostRun struct {
	d    *domainRun
	host mx.Host
	last bool // no other host is tried after this one

	catchAll      catchall.Status // for (domain, host)
	asked         bool            // the catch-all question was asked
	deferred      bool            // the probe was greylisted: ask again on the retry
	probeRejected bool            // the probe got a rejection that names no reason
	accepted      bool            // the host accepted a recipient of the domain

	grey      []*job        // greylisted, to retry on this host
	greySince time.Time     // the first greylisting
	stated    time.Duration // the longest wait the host's replies stated
	decided   []*job        // answered, not yet sent
}

// run probes jobs on the host and returns those to try on the next host:
// the ones whose outcome said nothing about the mailbox and might differ
// there (connection failures, blocks, rate limits).
func (hr *hostRun) run(ctx context.Context, jobs []*job) (next []*job) {
	next = hr.session(ctx, jobs)
	final := len(hr.grey) == 0 && !hr.deferred
	if final && !hr.last && !hr.evidence() && ctx.Err() == nil {
		// The host refused every recipient alike: a policy about us,
		// which another host may not share.
		keep := hr.decided[:0]
		for _, j := range hr.decided {
			if j.out.Outcome == smtpprobe.Rejected {
				next = append(next, j)
			} else {
				keep = append(keep, j)
			}
		}
		hr.decided = keep
	}
	hr.emitReady(final)
	return next
}

// session opens one session to the host, probes jobs in batches within the
// host's rate, and asks the catch-all question once there is something it
// bears on. It returns the jobs to pass on to the next host.
func (hr *hostRun) session(ctx context.Context, jobs []*job) (next []*job) {
	v := hr.d.v
	var tr *strings.Builder
	if v.Transcript {
		tr = &strings.Builder{}
	}
	s, addr, release, err := v.open(ctx, hr.host, tr)
	if err != nil {
		out := &smtpprobe.Result{Outcome: smtpprobe.OutcomeOf(err), Err: err}
		var re *smtpprobe.ReplyError
		if errors.As(err, &re) {
			out.Reply = &re.Reply
		}
		for _, j := range jobs {
			o := *out
			o.Address = j.wire
			j.out, j.host = &o, hr.host.Name
		}
		if ctx.Err() == nil && !hr.last {
			return jobs
		}
		return nil
	}
	s.SetQuirks(v.quirks(addr))
	_, limiter := v.hostLimits(addr)
	for start := 0; start < len(jobs); start += batchSize {
		batch := jobs[start:min(start+batchSize, len(jobs))]
		if err := limiter.WaitN(ctx, len(batch)); err != nil {
			for _, j := range jobs[start:] {
				j.out, j.host = &smtpprobe.Result{Address: j.wire, Outcome: smtpprobe.Timeout, Err: err}, hr.host.Name
			}
			break
		}
		next = append(next, hr.probe(ctx, s, batch)...)
		if (!hr.asked || hr.deferred) && hr.bearsOnCatchAll() {
			hr.askCatchAll(ctx, s)
		}
		if tr == nil { // stream; with transcripts, wait for the whole session
			hr.emitReady(false)
		}
	}
	if len(jobs) == 0 && hr.deferred {
		hr.askCatchAll(ctx, s) // a retry of the greylisted probe alone
	}
	v.learn(addr, s.Quirks())
	s.CloseContext(ctx)
	release()
	if tr != nil {
		lines := strings.Split(strings.TrimRight(tr.String(), "\n"), "\n")
		for _, j := range jobs {
			j.res.Transcript = append(j.res.Transcript, lines...)
		}
	}
	return next
}

// probe asks about one batch and files each job by its outcome.
func (hr *hostRun) probe(ctx context.Context, s *smtpprobe.Session, batch []*job) (next []*job) {
	wires := make([]string, len(batch))
	for k, j := range batch {
		wires[k] = j.wire
	}
	for k, r := range s.Probe(ctx, wires...) {
		j := batch[k]
		j.out, j.host = &r, hr.host.Name
		switch {
		case r.Outcome == smtpprobe.Greylisted:
			hr.greylisted(j, r)
		case hostLevel(r.Outcome) && !hr.last && ctx.Err() == nil:
			next = append(next, j)
		default:
			if r.Outcome == smtpprobe.Accepted {
				hr.sawAcceptance()
			}
			hr.decided = append(hr.decided, j)
		}
	}
	return next
}

// greylisted parks j for the retry, noting when and for how long the host
// asked to wait.
func (hr *hostRun) greylisted(j *job, r smtpprobe.Result) {
	hr.grey = append(hr.grey, j)
	hr.noteGreylisting(r)
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

// bearsOnCatchAll reports whether the host gave an answer that the
// catch-all question decides: an acceptance, a greylisting, or a rejection
// that names no reason.
func (hr *hostRun) bearsOnCatchAll() bool {
	if hr.accepted || len(hr.grey) > 0 {
		return true
	}
	for _, j := range hr.decided {
		if j.out.Outcome == smtpprobe.Rejected {
			return true
		}
	}
	return false
}

// askCatchAll asks whether the domain is catch-all at this host, unless
// the domain is a provider's own consumer domain (known not to be) or the
// Verifier skips the question.
func (hr *hostRun) askCatchAll(ctx context.Context, s *smtpprobe.Session) {
	v, d := hr.d.v, hr.d
	hr.asked, hr.deferred = true, false
	switch {
	case catchall.KnownNotCatchAll(d.domain, string(d.mr.Provider)):
		hr.catchAll = catchall.No
		return
	case v.SkipCatchAll:
		return
	}
	st, r := v.detector.Check(ctx, s, d.domain, hr.host.Name)
	hr.catchAll = st
	if r == nil {
		return
	}
	switch r.Outcome {
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
		hr.d.v.detector.Record(hr.d.domain, hr.host.Name, catchall.No)
	}
}

// emitReady sends the decided jobs whose verdict is settled. Accepted jobs
// wait while the catch-all answer is still to come (the probe was
// greylisted); rejections that name no reason wait for differential
// evidence until final.
func (hr *hostRun) emitReady(final bool) {
	keep := hr.decided[:0]
	for _, j := range hr.decided {
		switch o := j.out.Outcome; {
		case o == smtpprobe.Accepted && hr.deferred:
			keep = append(keep, j)
		case o == smtpprobe.Rejected && !final && !hr.evidence():
			keep = append(keep, j)
		default:
			hr.settle(j)
			hr.d.emit(j)
		}
	}
	hr.decided = keep
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
