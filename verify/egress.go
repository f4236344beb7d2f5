package verify

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/mx"
	"github.com/mailverify/mailverify/smtpprobe"
)

// egressWire is the Verifier's egress layer (issue 29). With Egresses
// unset there is no router: sessions go out through Dialer with HELO and
// MailFrom, as before, and only the port-25 detector and the reading of
// replies about the egress apply.
type egressWire struct {
	router *egress.Router // nil without Egresses
	port25 atomic.Pointer[port25Watch]
	leases sync.Map     // *smtpprobe.Session → *sessionLease
	waits  sync.Map     // *hostQueue → *leaseWait: its worker waits for a lease (egresswait.go)
	hung   atomic.Int32 // routes given up on and not yet returned (Verifier.route)
	// noCanary, for BenchmarkCanaryCost only, sends no trailing probe:
	// acceptances no refusal followed end unknown/cannot_verify.
	noCanary bool
	noInline bool // BenchmarkCanaryCost's "trailing": no canary in the batch's flush
}

// A sessionLease ties a session to the egress lease it runs on.
type sessionLease struct {
	lease *egress.Lease
	host  string // the MX host name
}

// initEgress builds the router when Egresses is set (Validate has checked
// them).
func (v *Verifier) initEgress() {
	v.eg.port25.Store(v.newPort25())
	if len(v.Egresses) == 0 {
		return
	}
	v.eg.router, _ = v.newRouter()
}

func (v *Verifier) newRouter() (*egress.Router, error) {
	from, _ := v.mailFrom()
	es := make([]egress.Egress, len(v.Egresses))
	for i, e := range v.Egresses {
		es[i] = e.WithDefaults(v.HELO, from)
	}
	h := &egress.Health{Store: v.EgressStore, Hook: v.OnEgressEvent}
	b := &egress.Budgets{Profiles: v.Profiles}
	if bs, ok := v.EgressStore.(egress.BudgetStore); ok {
		b.Store = bs // one budget per pair for every Verifier on the store
	}
	return egress.NewRouter(es, h, b)
}

// validateEgress checks the egresses (unique names, usable identities).
func (v *Verifier) validateEgress() error {
	if len(v.Egresses) == 0 {
		return nil
	}
	if _, err := v.newRouter(); err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	for _, e := range v.Egresses {
		if e.HELO != "" && !validHELO(e.HELO) {
			return fmt.Errorf("%w: egress %s: HELO %q is not a host name or an address literal", ErrConfig, e.ID(), e.HELO)
		}
	}
	return nil
}

// EgressStatus reports every egress with its health and budget use per
// provider; nil without Egresses.
func (v *Verifier) EgressStatus() ([]egress.EgressStatus, error) {
	v.init()
	if v.eg.router == nil {
		return nil, nil
	}
	return v.eg.router.Snapshot()
}

// egressID names the egress sessions use without a router.
func (v *Verifier) egressID() string {
	if v.Dialer != nil {
		return "dialer"
	}
	return (&egress.Egress{}).ID()
}

// lease routes a session to addr, the address of host h, through an
// egress. Where every egress allowed is backed off or spent, it waits
// within ctx for the earliest to come back (parked, like greylisting),
// and past it returns the *egress.UnavailableError. Without a router it
// returns nil. While it waits, the queue's addresses whose deadlines pass
// end with its refusal (see leaseWait).
func (v *Verifier) lease(ctx context.Context, h mx.Host, addr string) (l *egress.Lease, err error) {
	r := v.eg.router
	if r == nil {
		return nil, nil
	}
	var w *leaseWait
	defer func() { v.endWait(ctx, w, l != nil) }()
	provider := string(mx.ProviderOf(h.Name))
	dl, ok := ctx.Deadline()
	for {
		l, err = v.route(ctx, provider, addr)
		var ue *egress.UnavailableError
		if !errors.As(err, &ue) {
			return l, err
		}
		w = v.noteWait(ctx, w, ue)
		if ue.NoEgress || ue.Err != nil {
			return nil, err // a store that fails: retry_after, no poll
		}
		if !ok && !ue.Until.IsZero() { // no Timeout: wait for the first Until, no longer
			dl, ok = ue.Until.Add(time.Second), true
		}
		wait := time.Until(ue.Until)
		if ue.Until.IsZero() || ue.Sessions {
			wait = 50 * time.Millisecond // a session's release frees one
		}
		if ok && time.Now().Add(wait).After(dl) {
			return nil, err
		}
		t := time.NewTimer(max(wait, 10*time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

// route is the router's Route, given up when ctx ends first: the stores
// behind the router take no context, and one that hangs (a cluster's KV
// cut off) would hold the session's addresses past their deadlines and
// the caller's cancellation (rev-egress F1). The store is then taken as
// failed (retry_after StoreBackoff), at once for every route while a
// call given up on has not returned; a lease granted after is released.
// Which of the router's stores held it is not known: the error says
// either. A ctx that has ended already routes nothing and returns its
// error: no store was waited for.
func (v *Verifier) route(ctx context.Context, provider, addr string) (*egress.Lease, error) {
	hung := func(err error) error {
		return &egress.UnavailableError{Provider: provider, Until: time.Now().Add(egress.StoreBackoff),
			Err: &egress.StoreError{Store: "health or budget", Err: err}}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if v.eg.hung.Load() > 0 {
		return nil, hung(errStoreHung)
	}
	type routed struct {
		l   *egress.Lease
		err error
	}
	ch := make(chan routed, 1)
	go func() {
		l, err := v.eg.router.Route(provider, addr)
		ch <- routed{l, err}
	}()
	select {
	case x := <-ch:
		return x.l, x.err
	case <-ctx.Done():
		v.eg.hung.Add(1)
		go func() {
			defer v.eg.hung.Add(-1)
			if x := <-ch; x.l != nil {
				x.l.Release()
			}
		}()
		return nil, hung(ctx.Err())
	}
}

// errStoreHung is the cause of a route refused while an earlier one
// waits for the store.
var errStoreHung = errors.New("an earlier call to the egress store has not returned")

// dress gives p the lease's egress: its dialer and identity, the budget
// paced flush by flush beside the server's politeness (in pc), and a reader of
// the replies that tells the egress's health what they say about it.
// Every egress's dials, the single one's too, are watched for port 25
// being closed (portWatch).
func (v *Verifier) dress(p *smtpprobe.Prober, pc *pacer, l *egress.Lease, h mx.Host, eg string) {
	pc.budget = nil // the worker's pacer served another session before
	if l != nil {
		p.Dialer, p.HELO, p.MailFrom = l.Egress, l.Egress.HELO, l.Egress.MailFrom
		// The budget waits inside the pacer, which counts every wait:
		// a refusal after one proves no acceptance before it.
		pc.budget = func(ctx context.Context, n int) error { return takeBudget(ctx, l, n) }
		tap := &replyTap{lease: l, host: h.Name}
		if prev := p.TranscriptFunc; prev != nil {
			p.TranscriptFunc = func(tl smtpprobe.TranscriptLine) { prev(tl); tap.line(tl) }
		} else {
			p.TranscriptFunc = tap.line
		}
	}
	inner := p.Dialer
	if inner == nil {
		inner = &net.Dialer{}
	}
	p.Dialer = &portWatch{v: v, inner: inner, egress: eg, provider: string(mx.ProviderOf(h.Name)), held: l != nil}
}

// A portWatch dialer tells the port-25 detector how each TCP connection
// went, the moment it is known; once the detector judges port 25 closed
// for the egress, the dial fails with its *egress.Port25Error.
type portWatch struct {
	v        *Verifier
	inner    smtpprobe.Dialer
	egress   string
	provider string
	held     bool // the session holds an egress lease: its conn is a heldConn
}

func (w *portWatch) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := w.inner.DialContext(ctx, network, addr)
	if pe := w.v.observeDial(w.egress, addr, w.provider, err); pe != nil {
		if c != nil {
			c.Close()
		}
		return nil, pe
	}
	if err == nil && w.held {
		c = heldConn{c}
	}
	return c, err
}

// takeBudget spends n commands of the lease's budget, waiting within ctx
// for a refill. A budget is never exceeded: when the refill comes after
// ctx's deadline, the flush fails at once with an *egress.UnavailableError
// (its addresses end unknown/rate_limited with retry_after from the
// refill), rather than waiting out the deadline to end as a timeout.
func takeBudget(ctx context.Context, l *egress.Lease, n int) error {
	for {
		err := l.Take(n)
		var ee *egress.ExhaustedError
		if !errors.As(err, &ee) {
			return err
		}
		wait := max(time.Until(ee.RetryAt), 10*time.Millisecond)
		if dl, ok := ctx.Deadline(); ok && !ee.RetryAt.IsZero() && time.Now().Add(wait).After(dl) {
			return &egress.UnavailableError{Provider: ee.Key.Provider, Until: ee.RetryAt}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// bind records s's lease and returns the release of both.
func (v *Verifier) bind(s *smtpprobe.Session, l *egress.Lease, host string, release func()) func() {
	if l == nil {
		return release
	}
	v.eg.leases.Store(s, &sessionLease{lease: l, host: host})
	return func() {
		v.eg.leases.Delete(s)
		l.Release()
		release()
	}
}

// sessionLeaseOf returns s's lease, or nil.
func (v *Verifier) sessionLeaseOf(s *smtpprobe.Session) *sessionLease {
	if x, ok := v.eg.leases.Load(s); ok {
		return x.(*sessionLease)
	}
	return nil
}

// egressFits reports whether s may go on: its egress is not backed off
// for the provider and its budget has room for a flush with its probes
// (see egressRoom). A session that may not is closed, and the next one is
// routed afresh (another egress, or the wait of an unavailable one). A
// budget with less than that left is spent to the end, unsent, so that
// the router passes over it until it refills: budgets are never exceeded,
// and a session never waits on a remnant while another egress is free.
func (v *Verifier) egressFits(s *smtpprobe.Session) bool {
	sl := v.sessionLeaseOf(s)
	if sl == nil {
		return true
	}
	select {
	case <-sl.lease.Lost(): // its hold may lapse: end before another takes it
		return false
	default:
	}
	if off, _, err := v.eg.router.Health().BackedOff(sl.lease.Key); off || err != nil {
		return false
	}
	if left := v.budgetLeft(sl.lease.Key); left < flushReserve+1 {
		_ = sl.lease.Take(left)
		return false
	}
	return true
}

// flushReserve is the RCPTs a batch may bring after it: its domain's
// catch-all probe, a trailing probe and its control.
const flushReserve = 3

// egressCap bounds n, the recipients of s's next batch, by what its
// egress's budget has left beside flushReserve.
func (v *Verifier) egressCap(s *smtpprobe.Session, n int) int {
	sl := v.sessionLeaseOf(s)
	if sl == nil {
		return n
	}
	return max(0, min(n, v.budgetLeft(sl.lease.Key)-flushReserve))
}

// budgetLeft is the commands k may still spend in every window.
func (v *Verifier) budgetLeft(k egress.Key) int {
	u := v.eg.router.Budgets().Usage(k)
	left := math.MaxInt
	for _, w := range [][2]int{{u.Minute, u.Limits.PerMinute}, {u.Hour, u.Limits.PerHour}, {u.Day, u.Limits.PerDay}} {
		if w[1] > 0 {
			left = min(left, max(0, w[1]-w[0]))
		}
	}
	return left
}

// observeDial tells the port-25 detector how a connection to addr (of
// provider) went through the egress eg; it returns the detector's
// decision when this outcome made it.
func (v *Verifier) observeDial(eg, addr, provider string, err error) error {
	ap, perr := netip.ParseAddrPort(addr)
	if perr != nil {
		return nil
	}
	res := egress.Connected
	var ne net.Error
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled):
		return nil
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		res = egress.TimedOut
	case strings.Contains(err.Error(), "connection refused"):
		res = egress.Refused
	default:
		res = egress.OtherError
	}
	if pe := v.port25().d.Observe(egress.ConnOutcome{Egress: eg, Server: ap.Addr(), Provider: provider, DNSAnswered: true, Result: res}); pe != nil {
		return pe
	}
	return nil
}

// leaseFor routes a session to addr (see lease) and names its egress. An
// egress whose port 25 is known closed fails at once; in a pool, its pair
// with the provider is reported blocked first, so that the router moves
// the provider's work to another egress, and routing is tried again.
func (v *Verifier) leaseFor(ctx context.Context, h mx.Host, addr string) (*egress.Lease, string, error) {
	for range len(v.Egresses) + 1 {
		l, err := v.lease(ctx, h, addr)
		if err != nil {
			return nil, "", err
		}
		eg := v.egressID()
		if l != nil {
			eg = l.Egress.ID()
		}
		perr := v.port25().d.Blocked(eg)
		if perr == nil {
			return l, eg, nil
		}
		releaseLease(l)
		if l == nil {
			return nil, eg, perr
		}
		_ = v.eg.router.Health().Report(l.Key, egress.Evidence{At: time.Now(), Host: h.Name, Finding: egress.Finding{
			Verdict: egress.Blocked, Provider: l.Key.Provider, Rule: "port25-closed", Meaning: perr.Error(),
			Advice: "Open outbound port 25 for this egress, or remove it from the pool."}})
	}
	return nil, "", fmt.Errorf("verify: no egress with port 25 open for %s", h.Name)
}

func releaseLease(l *egress.Lease) {
	if l != nil {
		l.Release()
	}
}

// A port25Watch is the port-25 detector, with when it was made: its
// decision is not for ever, since a long-running Verifier may have met
// three dead servers by chance, or had its port 25 opened meanwhile.
type port25Watch struct {
	d    egress.Port25
	made time.Time
}

// port25Retry is how long a decision that port 25 is closed stands before
// the dials are watched afresh.
const port25Retry = 10 * time.Minute

func (v *Verifier) newPort25() *port25Watch {
	return &port25Watch{d: egress.Port25{Hook: v.OnPort25Blocked}, made: time.Now()}
}

// port25 returns the detector, a fresh one when the current one is older
// than port25Retry.
func (v *Verifier) port25() *port25Watch {
	w := v.eg.port25.Load()
	if time.Since(w.made) > port25Retry {
		v.eg.port25.CompareAndSwap(w, v.newPort25()) // or another caller did
		w = v.eg.port25.Load()
	}
	return w
}
