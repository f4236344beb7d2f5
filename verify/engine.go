package verify

import (
	"context"
	"io"
	"log/slog"
	"regexp"
	"time"

	"github.com/mailverify/mailverify/catchall"
	"github.com/mailverify/mailverify/mx"
	"github.com/mailverify/mailverify/role"
	"github.com/mailverify/mailverify/smtpprobe"
	"github.com/mailverify/mailverify/suggest"
	"golang.org/x/sync/errgroup"
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
}

// acceptAllProviders accept every RCPT and bounce later, so a probe there
// says nothing: their verdict is unknown/cannot_verify without one.
var acceptAllProviders = map[mx.Provider]bool{mx.Yahoo: true}

// maxHostsTried bounds the MX hosts one address is tried on.
const maxHostsTried = 3

// run verifies addrs and sends each result to out.
func (v *Verifier) run(ctx context.Context, addrs []string, out chan<- indexed) {
	send := func(j *job) {
		j.sent = true
		j.res.Duration = Millis(time.Since(j.start))
		if j.res.Err != nil {
			j.res.Error = j.res.Err.Error()
		}
		out <- indexed{j.i, j.res} // VerifyAll reads or drains out to the end
	}
	var order []string
	groups := map[string][]*job{}
	for i, a := range addrs {
		j := &job{i: i, start: time.Now(), res: Result{Input: a}}
		if v.precheck(j) {
			send(j)
			continue
		}
		d := j.res.DomainASCII
		if _, ok := groups[d]; !ok {
			order = append(order, d)
		}
		groups[d] = append(groups[d], j)
	}
	var g errgroup.Group
	g.SetLimit(orDefault(v.Concurrency, 16))
	for _, d := range order {
		jobs := groups[d]
		g.Go(func() error {
			ctx := ctx
			if v.Timeout > 0 {
				rounds := (len(jobs) + orDefault(v.MaxRcpts, 20) - 1) / orDefault(v.MaxRcpts, 20)
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, v.Timeout*time.Duration(rounds))
				defer cancel()
			}
			v.domain(ctx, d, jobs, send)
			for _, j := range jobs {
				if !j.sent {
					send(j)
				}
			}
			return nil
		})
	}
	g.Wait()
}

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

// domain verifies the jobs of one domain: DNS, then SMTP on its mail
// servers, then the verdicts. Jobs decided during the SMTP work go to send
// at once, so a large domain streams its results; the caller sends the
// rest.
func (v *Verifier) domain(ctx context.Context, domain string, jobs []*job, send func(*job)) {
	log := v.logger().With(slog.String("domain", domain))
	mr, err := v.mxc.Lookup(ctx, domain)
	if err != nil { // the context ended: the domain was parsed already
		setAll(jobs, Unknown, ReasonTimeout, err)
		finish(jobs)
		return
	}
	for _, j := range jobs {
		j.res.Provider = string(mr.Provider)
	}
	log.LogAttrs(ctx, slog.LevelDebug, "mx lookup", slog.String("status", mr.Status.String()), slog.Int("hosts", len(mr.Hosts)))
	switch mr.Status {
	case mx.DomainNotFound:
		setAll(jobs, Undeliverable, ReasonDomainNotFound, nil)
	case mx.NoMailServer:
		setAll(jobs, Undeliverable, ReasonNoMailServer, nil)
	case mx.NullMX:
		setAll(jobs, Undeliverable, ReasonNullMX, nil)
	case mx.Unroutable:
		setAll(jobs, Undeliverable, ReasonUnroutableMX, nil)
	case mx.Temporary:
		setAll(jobs, Unknown, ReasonDNSError, mr.Err)
		retryAfter(jobs, 5*time.Minute)
	case mx.Found:
		switch {
		case v.SkipSMTP:
			setAll(jobs, Unknown, ReasonSMTPNotChecked, nil)
		case acceptAllProviders[mr.Provider]:
			setAll(jobs, Unknown, ReasonCannotVerify, nil)
		default:
			v.smtp(ctx, domain, mr, jobs, send)
		}
	}
	finish(jobs)
}

func setAll(jobs []*job, s Status, r Reason, err error) {
	for _, j := range jobs {
		j.res.Status, j.res.Reason, j.res.Err = s, r, err
	}
}

func retryAfter(jobs []*job, d time.Duration) {
	for _, j := range jobs {
		j.res.RetryAfter = Seconds(d)
	}
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

// smtp probes the jobs on the domain's mail hosts in preference order. A
// host that cannot be reached or refuses the session passes the jobs to
// the next; an answer about the mailbox ends them. Greylisted jobs are
// retried on the host that greylisted them.
func (v *Verifier) smtp(ctx context.Context, domain string, mr mx.Result, jobs []*job, send func(*job)) {
	hosts := mr.Usable()
	for _, j := range jobs {
		for _, h := range hosts {
			j.res.MXHosts = appendHost(j.res.MXHosts, h.Name)
		}
	}
	d := &domainRun{v: v, domain: domain, mr: mr, send: send}
	var runs []*hostRun
	pending := jobs
	for n, h := range hosts {
		if n == maxHostsTried || len(pending) == 0 {
			break
		}
		hr := &hostRun{d: d, host: h, last: n == len(hosts)-1 || n == maxHostsTried-1}
		runs = append(runs, hr)
		pending = hr.run(ctx, pending)
	}
	for _, hr := range runs {
		if len(hr.grey) > 0 || hr.deferred || len(hr.decided) > 0 {
			hr.retryGreylisted(ctx)
		}
	}
	for _, j := range jobs {
		if !j.sent {
			v.verdict(j)
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

// verdict turns a job's SMTP outcome into its status and reason.
func (v *Verifier) verdict(j *job) {
	r := &j.res
	o := j.out
	if o == nil {
		r.Status, r.Reason = Unknown, ReasonSMTPNotChecked
		return
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
