package verify

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"regexp"
	"strings"
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
// the next; an answer about the mailbox ends them.
func (v *Verifier) smtp(ctx context.Context, domain string, mr mx.Result, jobs []*job, send func(*job)) {
	hosts := mr.Usable()
	for _, j := range jobs {
		for _, h := range hosts {
			j.res.MXHosts = appendHost(j.res.MXHosts, h.Name)
		}
	}
	emit := func(j *job) {
		v.verdict(j)
		finish([]*job{j})
		send(j)
	}
	pending := jobs
	var greylisted []*job
	var greyHost mx.Host
	deferred := false // the catch-all probe was greylisted
	for n, h := range hosts {
		if n == maxHostsTried || len(pending) == 0 {
			break
		}
		last := n == len(hosts)-1 || n == maxHostsTried-1
		var next []*job
		grey, def := v.probeHost(ctx, domain, mr, h, pending, jobs, func(j *job) { next = append(next, j) }, emit, last)
		if len(grey) > 0 || def {
			greylisted, greyHost = append(greylisted, grey...), h
			deferred = deferred || def
		}
		pending = next
	}
	if len(greylisted) > 0 || deferred {
		v.greylist(ctx, domain, mr, greyHost, jobs, greylisted, deferred, emit)
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

// probeHost opens a session on host and probes the jobs. Jobs whose
// outcome is host-level are handed to retry (unless this is the last host
// to try); greylisted jobs are returned, with whether the catch-all probe,
// whose answer goes to all of the domain's jobs, was greylisted. Jobs
// decided here go to emit, except accepted ones while the catch-all
// answer is still to come.
func (v *Verifier) probeHost(ctx context.Context, domain string, mr mx.Result, h mx.Host, jobs, all []*job, retry, emit func(*job), last bool) (grey []*job, deferred bool) {
	var tr *strings.Builder
	if v.Transcript {
		tr = &strings.Builder{}
	}
	s, addr, release, err := v.open(ctx, h, tr)
	if err != nil {
		o := smtpprobe.OutcomeOf(err)
		var reply *smtpprobe.Reply
		var re *smtpprobe.ReplyError
		if errors.As(err, &re) {
			reply = &re.Reply
		}
		for _, j := range jobs {
			j.out, j.host = &smtpprobe.Result{Address: j.wire, Outcome: o, Reply: reply, Err: err}, h.Name
			if ctx.Err() == nil && !last {
				retry(j)
			}
		}
		return nil, false
	}
	defer release()
	defer s.Close()
	_, limiter := v.hostLimits(addr)
	checked := false // the catch-all question was asked on this session
	var decided []*job
	for start := 0; start < len(jobs); start += batchSize {
		batch := jobs[start:min(start+batchSize, len(jobs))]
		if err := limiter.WaitN(ctx, len(batch)); err != nil {
			for _, j := range jobs[start:] {
				j.out, j.host = &smtpprobe.Result{Address: j.wire, Outcome: smtpprobe.Timeout, Err: err}, h.Name
			}
			break
		}
		wires := make([]string, len(batch))
		for k, j := range batch {
			wires[k] = j.wire
		}
		accepted, final := false, []*job(nil)
		for k, r := range s.Probe(ctx, wires...) {
			j := batch[k]
			j.out, j.host = &r, h.Name
			switch {
			case r.Outcome == smtpprobe.Greylisted:
				grey = append(grey, j)
			case hostLevel(r.Outcome) && !last && ctx.Err() == nil:
				retry(j)
			default:
				final = append(final, j)
				accepted = accepted || r.Outcome == smtpprobe.Accepted
			}
		}
		// Ask about catch-all after the first real addresses. When some
		// were greylisted, asking now starts the greylisting clock for the
		// probe address too, so that the retry can judge it.
		if !checked && (accepted || len(grey) > 0) {
			deferred, checked = v.catchAll(ctx, domain, mr, s, all), true
		}
		decided = append(decided, final...)
		if tr == nil { // stream; with transcripts, wait for the whole session
			decided = emitDecided(decided, deferred, emit)
		}
	}
	if tr != nil {
		lines := strings.Split(strings.TrimRight(tr.String(), "\n"), "\n")
		for _, j := range jobs {
			j.res.Transcript = append(j.res.Transcript, lines...)
		}
	}
	emitDecided(decided, deferred, emit)
	return grey, deferred
}

// emitDecided emits the decided jobs, except accepted ones while the
// catch-all answer is deferred, and returns those it held back.
func emitDecided(decided []*job, deferred bool, emit func(*job)) []*job {
	var held []*job
	for _, j := range decided {
		if deferred && j.out.Outcome == smtpprobe.Accepted {
			held = append(held, j)
			continue
		}
		emit(j)
	}
	return held
}

// open connects to the first reachable address of host, within the
// per-host session limit; release frees the slot after the session closes.
func (v *Verifier) open(ctx context.Context, h mx.Host, tr *strings.Builder) (s *smtpprobe.Session, addr string, release func(), err error) {
	p := v.prober()
	switch {
	case tr != nil && v.tap != nil:
		// One stream with local parts for the Result, one redacted for
		// the shared tap.
		p.Transcript, p.ShowLocalParts = io.MultiWriter(tr, &redactTo{w: v.tap}), true
	case tr != nil:
		p.Transcript, p.ShowLocalParts = tr, true
	case v.tap != nil:
		p.Transcript = v.tap
	}
	for _, ip := range h.Addrs {
		addr = v.dialAddr(ip.String())
		sem, _ := v.hostLimits(addr)
		if err = sem.Acquire(ctx, 1); err != nil {
			return nil, addr, nil, err
		}
		s, err = p.Open(ctx, h.Name, addr)
		if err == nil {
			return s, addr, func() { sem.Release(1) }, nil
		}
		sem.Release(1)
		var re *smtpprobe.ReplyError
		if errors.As(err, &re) || ctx.Err() != nil {
			return nil, addr, nil, err // the server answered: its other addresses will too
		}
	}
	if err == nil {
		err = errors.New("verify: no address for " + h.Name)
	}
	return nil, addr, nil, err
}

func (v *Verifier) prober() *smtpprobe.Prober {
	return &smtpprobe.Prober{
		Dialer: v.Dialer, HELO: v.HELO, MailFrom: v.MailFrom, TLS: v.TLS,
		ConnectTimeout: v.ConnectTimeout, CommandTimeout: v.CommandTimeout,
		MaxRcpts: v.MaxRcpts, PipelineBatch: batchSize, Logger: v.Logger,
	}
}

// catchAll probes, after the real addresses, whether the domain accepts
// every recipient, unless its provider is known not to. It reports whether
// the probe was greylisted, so that it is worth asking again later.
func (v *Verifier) catchAll(ctx context.Context, domain string, mr mx.Result, s *smtpprobe.Session, jobs []*job) (deferred bool) {
	st := catchall.Unknown
	switch {
	case v.SkipCatchAll:
	case catchall.KnownNotCatchAll(string(mr.Provider)):
		st = catchall.No
	default:
		var r *smtpprobe.Result
		st, r = v.detector.Check(ctx, s, domain)
		deferred = r != nil && r.Outcome == smtpprobe.Greylisted
	}
	for _, j := range jobs {
		j.res.CatchAll = st
	}
	return deferred
}

// greylist retries greylisted jobs, and a greylisted catch-all probe, on
// new sessions with exponential backoff while the context and
// GreylistMaxWait allow. all are the domain's jobs, whose catch-all status
// a later probe updates.
func (v *Verifier) greylist(ctx context.Context, domain string, mr mx.Result, h mx.Host, all, jobs []*job, deferred bool, emit func(*job)) {
	delay := orDefault(v.GreylistDelay, time.Minute)
	budget := orDefault(v.GreylistMaxWait, 5*time.Minute)
	waited := time.Duration(0)
	for len(jobs) > 0 || deferred {
		if waited+delay > budget || !fits(ctx, delay) {
			retryAfter(jobs, delay)
			return
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			retryAfter(jobs, delay)
			return
		case <-t.C:
		}
		waited += delay
		v.logger().LogAttrs(ctx, slog.LevelDebug, "greylist retry", slog.String("domain", domain), slog.Int("addresses", len(jobs)))
		if len(jobs) > 0 {
			jobs, deferred = v.probeHost(ctx, domain, mr, h, jobs, all, func(*job) {}, emit, true)
		} else {
			deferred = v.recheckCatchAll(ctx, domain, mr, h, all)
		}
		delay *= 2
	}
}

// recheckCatchAll runs only the catch-all probe on a new session, for a
// domain whose addresses are decided but whose probe was greylisted.
func (v *Verifier) recheckCatchAll(ctx context.Context, domain string, mr mx.Result, h mx.Host, all []*job) bool {
	s, _, release, err := v.open(ctx, h, nil)
	if err != nil {
		return false
	}
	defer release()
	defer s.Close()
	return v.catchAll(ctx, domain, mr, s, all)
}

// fits reports whether ctx leaves time to wait d and then probe.
func fits(ctx context.Context, d time.Duration) bool {
	dl, ok := ctx.Deadline()
	return !ok || time.Until(dl) > d+time.Second
}

type outcomeVerdict struct {
	status Status
	reason Reason
	retry  time.Duration // retry_after; 0 for none
}

// outcomeVerdicts maps the SMTP outcomes whose verdict depends on nothing
// else (DESIGN.md section 3); Accepted and Greylisted are decided in verdict.
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
		switch {
		case r.CatchAll == catchall.No, r.CatchAll == catchall.Unknown && v.SkipCatchAll:
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
	if !ok {
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
