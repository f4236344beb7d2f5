package verify

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"time"

	"github.com/mailverify/mailverify/catchall"
	"github.com/mailverify/mailverify/mx"
	"github.com/mailverify/mailverify/risk"
	"github.com/mailverify/mailverify/role"
	"github.com/mailverify/mailverify/smtpprobe"
	"github.com/mailverify/mailverify/suggest"
)

// job is one address on its way through the pipeline.
type job struct {
	i     int
	start time.Time
	res   Result
	wire  string // the address as sent in RCPT: A-label domain
	out   *smtpprobe.Result
	host  string // the MX host that gave out
	sent  bool   // the result has gone out
	slot  bool   // it holds a place in the engine's window
	// spilled: it left the window while it waits (see engine.spill)
	spilled bool

	d        *domainState
	run      *hostRun  // the (domain, host) the job is at
	deadline time.Time // Timeout from its first SMTP attempt; zero for none
	greyAt   time.Time // when it was first greylisted
	// first: the flush (the engine's tick before it) and connection that
	// first asked it at its host (answer.frontsFor); zero before
	first askKey
	// greyRetried: it was retried after greylisting at least once;
	// retriedAt: when its latest retry was due (hostRun.jobDue)
	greyRetried bool
	retriedAt   time.Time

	ans        answer // where the host's answer stood (see evidence.go)
	answered   bool   // ... when a RCPT reply came
	trailed    bool   // a trailing catch-all probe was asked after it
	reasked    bool   // a refusal that did not count was asked once more
	counted    bool   // its refusal counts: an acceptance came after it
	sandwiched bool   // its refusal was asked again with a control after it
	rebrackets int    // times its acceptance was asked again before a trailing probe

	at      int           // where it waits (see deadline.go)
	expired bool          // it ended at its deadline while in flight
	dnsTook time.Duration // its part of its domain's DNS lookup
	dlIndex int           // its place in engine.dl; -1 for none
	eg      jobEgress     // what the egress layer decided (egressverdict.go)
	// earlier: the failure at a more preferred MX host that sent the job
	// on to the host that answered (hostRun.reroute); nil for none.
	earlier *smtpprobe.Result
}

// acceptAllProviders accept every RCPT and bounce later, so a probe there
// says nothing: their verdict is unknown/cannot_verify without one.
var acceptAllProviders = map[mx.Provider]bool{mx.Yahoo: true}

// maxHostsTried bounds the MX hosts one address is tried on.
const maxHostsTried = 3

// precheck applies the layers that need no network: syntax, flags, lists.
// It reports whether the verdict is final.
func (v *Verifier) precheck(j *job) bool {
	a, err := v.policy().Parse(j.res.Input)
	if err != nil {
		j.res.Status, j.res.Reason, j.res.Err = Undeliverable, ReasonInvalidSyntax, err
		return true
	}
	r := &j.res
	r.Address, r.Local, r.Domain, r.DomainASCII = a.String(), a.Local(), a.Domain(), a.DomainASCII()
	r.SMTPUTF8 = a.SMTPUTF8()
	_, _, r.Subaddress = a.Subaddress()
	r.RoleAccount = !a.IsQuoted() && role.Is(a.Local())
	if !a.IsQuoted() {
		if ev := risk.TrapLocalPart(a.Local()); ev != nil {
			r.Risk = &risk.Risk{TrapLocalPart: ev}
		}
	}
	j.wire = a.ASCII()
	if a.IsLiteral() {
		r.Status, r.Reason = Unknown, ReasonSMTPNotChecked
		return true
	}
	r.FreeProvider = v.freeList().Contains(r.DomainASCII)
	r.Suggestion = suggest.Domain(r.DomainASCII)
	if v.disposableList().Contains(r.DomainASCII) && !v.relayList().Contains(r.DomainASCII) {
		// Lists also carry typo domains (gmial.com); "did you mean" is the
		// more useful verdict there.
		r.Disposable = true
		r.Status, r.Reason = Risky, ReasonDisposable
		if r.Suggestion != "" {
			r.Reason = ReasonPossibleTypo
		}
		return true
	}
	if v.Offline {
		r.Status, r.Reason = Unknown, ReasonSMTPNotChecked
		finish([]*job{j})
		return true
	}
	return false
}

// finish applies the typo rule: an address at a likely misspelt domain
// that is not undeliverable is risky/possible_typo.
func finish(jobs []*job) {
	for _, j := range jobs {
		if !j.sent && j.res.Suggestion != "" && j.res.Status != Undeliverable {
			j.res.Status, j.res.Reason = Risky, ReasonPossibleTypo
		}
	}
}

func appendHost(hs []string, h string) []string {
	for _, x := range hs {
		if x == h {
			return hs
		}
	}
	return append(hs, h)
}

// hostLevel reports outcomes that say nothing about the mailbox and may
// differ on another MX host.
func hostLevel(o smtpprobe.Outcome) bool {
	switch o {
	case smtpprobe.ConnectionFailed, smtpprobe.Timeout, smtpprobe.TLSError, smtpprobe.ProtocolError, smtpprobe.Blocked, smtpprobe.RateLimited, smtpprobe.TemporaryFailure:
		return true
	}
	return false
}

type outcomeVerdict struct {
	status Status
	reason Reason
	retry  time.Duration // retry_after; 0 for none
}

// outcomeVerdicts maps the SMTP outcomes whose verdict depends on nothing
// else (see the verdict contract in the package documentation); Accepted
// and Greylisted are decided in verdict, and Rejected by the host's
// evidence before it gets here (hostRun.settle).
var outcomeVerdicts = map[smtpprobe.Outcome]outcomeVerdict{
	smtpprobe.CannotVerify:      {Unknown, ReasonCannotVerify, 0},
	smtpprobe.MailboxNotFound:   {Undeliverable, ReasonMailboxNotFound, 0},
	smtpprobe.MailboxDisabled:   {Undeliverable, ReasonMailboxDisabled, 0},
	smtpprobe.DomainRejectsMail: {Undeliverable, ReasonDomainRejectsMail, 0},
	smtpprobe.MailboxFull:       {Risky, ReasonMailboxFull, 0},
	smtpprobe.RateLimited:       {Unknown, ReasonRateLimited, 15 * time.Minute},
	smtpprobe.Blocked:           {Unknown, ReasonBlocked, 0},
	smtpprobe.TemporaryFailure:  {Unknown, ReasonTemporaryFailure, 5 * time.Minute},
	smtpprobe.Timeout:           {Unknown, ReasonTimeout, 0},
	smtpprobe.ConnectionFailed:  {Unknown, ReasonConnectionFailed, 0},
	smtpprobe.TLSError:          {Unknown, ReasonTLSError, 0},
	smtpprobe.ProtocolError:     {Unknown, ReasonProtocolError, 0},
	smtpprobe.NeedsSMTPUTF8:     {Unknown, ReasonSMTPUTF8Unsupported, 0},
	smtpprobe.Rejected:          {Unknown, ReasonBlocked, 0}, // no evidence either way
}

// verdict turns a job's SMTP outcome into its status and reason, then
// adds what the risk signals say. The History is asked later, without
// the engine's mutex (engine.send).
func (v *Verifier) verdict(j *job) {
	v.smtpVerdict(j)
	v.egressVerdict(j)
	v.riskVerdict(j)
}

// smtpVerdict turns a job's SMTP outcome into its status and reason.
func (v *Verifier) smtpVerdict(j *job) {
	r := &j.res
	o := j.out
	if o == nil {
		r.Status, r.Reason = Unknown, ReasonSMTPNotChecked
		return
	}
	if o.Outcome == smtpprobe.Blocked && o.Seq == 0 {
		// A banner, EHLO or MAIL refusal for the receiver's own fault.
		c := *o
		receiverFault(&c)
		o = &c
	}
	r.Err = o.Err
	if o.Reply != nil {
		r.SMTP = &SMTPReply{Code: o.Reply.Code, EnhancedCode: o.Reply.Enhanced.String(), Message: o.Reply.Text(), Host: j.host}
	}
	switch o.Outcome {
	case smtpprobe.Accepted:
		// Deliverable needs the host that accepted to have been shown
		// not to accept everyone.
		switch {
		case r.CatchAll == catchall.No:
			r.Status, r.Reason = Deliverable, ReasonAccepted
		case r.CatchAll == catchall.Yes:
			r.Status, r.Reason = Risky, ReasonCatchAll
		default:
			r.Status, r.Reason = Unknown, ReasonCannotVerify
		}
		return
	case smtpprobe.Greylisted:
		r.Status, r.Reason = Unknown, ReasonGreylisted
		if r.RetryAfter == 0 {
			r.RetryAfter = Seconds(orDefault(v.GreylistDelay, time.Minute))
		}
		return
	}
	if o.Outcome == smtpprobe.DomainRejectsMail && j.earlier != nil {
		// A backup MX that does not take mail for the domain ("relay not
		// permitted") says nothing while a more preferred host failed:
		// mail waits for that host (RFC 5321 section 5.1), and its failure
		// may have been about us (a limit on our client). The address
		// keeps that host's failure.
		e := *j.earlier
		e.Err = fmt.Errorf("%s refuses mail for the domain after a more preferred MX host failed: %w", j.host, cmp.Or(e.Err, errors.New(e.Outcome.String())))
		o = &e
		r.Err = e.Err
	}
	vd, ok := outcomeVerdicts[o.Outcome]
	if !ok { // Rejected never settled: no evidence
		vd = outcomeVerdict{Unknown, ReasonProtocolError, 0}
	}
	r.Status, r.Reason = vd.status, vd.reason
	if vd.retry > 0 {
		r.RetryAfter = Seconds(vd.retry)
	}
}

func (v *Verifier) logger() *slog.Logger {
	if v.Logger != nil {
		return v.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// localPart matches the local part of an address in a transcript line.
var localPart = regexp.MustCompile(`[^\s<>:"]+@`)

// redactTo writes transcript lines with every local part replaced by
// "***", for the shared tap when the session itself shows them.
type redactTo struct{ w io.Writer }

func (r *redactTo) Write(p []byte) (int, error) {
	if _, err := r.w.Write(localPart.ReplaceAll(p, []byte("***@"))); err != nil {
		return 0, err
	}
	return len(p), nil
}
