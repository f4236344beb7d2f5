// Package catchall decides whether a domain's mail server accepts every
// recipient. It asks, on an open SMTP session, about a random local part
// that no mailbox has, as the first recipient of a transaction of its
// own; a server that accepts it accepts everything, so its "accepted" says
// little.
//
// The random local part has no fixed form a server could recognise and
// refuse alone (seeming to judge while it accepts everyone else): each
// probe draws a new one (RandomLocalPart), shaped like an address of the
// domain when the caller gives one (Question.Like), with at least 40
// bits of randomness. Only an address the server deferred is asked
// again, by a probe that goes with addresses it deferred (their retry,
// Question.Retry): a greylisting server lets it through with them. One
// that names a mailbox by chance is accepted and reads as Yes: a cost,
// never a wrong "no such mailbox" nor a wrong proof.
//
// The question is per (domain, MX host): a backup MX that accepts all says
// nothing of a primary that rejects unknown users, and the other way
// round. Answers are cached for a TTL and shared between concurrent
// callers; a cached No is a starting point, not proof that the server
// tells recipients apart now (see ProbeAddrs and Learn for a probe asked
// again). A 4xx, a disconnect, a recipient limit, a generic rejection or
// any other unclear answer to the probe is Unknown, never No.
package catchall

import (
	"context"
	"sync"
	"time"

	"github.com/mailverify/mailverify/smtpprobe"
)

// A Detector runs and caches catch-all probes per (domain, mail host):
// the answer of one MX host says nothing about another (a backup MX often
// accepts every recipient that the primary would reject). The zero value
// is ready to use; a Detector is safe for concurrent use.
type Detector struct {
	// TTL is how long a Yes or No is cached; zero means 1h.
	TTL time.Duration
	// Shared, when set, shares the answers with other Detectors (the
	// processes of a service): asked on each miss, told each definite
	// answer. A Store answers from its own cache or gives up fast; a probe
	// costs one round trip to the mail server.
	Shared Store

	mu     sync.Mutex
	cache  map[key]entry
	probes map[key][]held       // random addresses deferred, oldest first
	lent   map[string]time.Time // ... handed out again, with their first deferral
	calls  map[key]*call        // probes running now
	now    func() time.Time     // for tests
}

// key names one catch-all question: a domain at one MX host.
type key struct{ domain, host string }

type entry struct {
	status  Status
	expires time.Time
}

// call is a probe in flight, which concurrent checks of the same key wait
// for.
type call struct {
	done   chan struct{}
	status Status
}

func (d *Detector) clock() time.Time {
	if d.now != nil {
		return d.now()
	}
	return time.Now()
}

// A Store keeps catch-all answers where several Detectors see them. Load
// reports an answer with when it was saved (the Detector keeps it until
// then plus its TTL, not a TTL afresh); Save is told each Yes or No. Both
// are called without the Detector's lock held, from many goroutines.
type Store interface {
	Load(domain, host string) (st Status, saved time.Time, ok bool)
	Save(domain, host string, st Status)
}

// Cached returns the cached answer for domain at the MX host, if any.
func (d *Detector) Cached(domain, host string) (Status, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.cache[key{domain, host}]
	if !ok || !d.clock().Before(e.expires) {
		return Unknown, false
	}
	return e.status, true
}

// Record caches a definite answer that the caller established itself, for
// instance from differential evidence the probe alone did not give.
func (d *Detector) Record(domain, host string, st Status) {
	if st == Unknown {
		return
	}
	d.mu.Lock()
	d.store(key{domain, host}, st)
	d.mu.Unlock()
	if d.Shared != nil {
		d.Shared.Save(domain, host, st)
	}
}

// loadShared fills the cache with the shared answers to the questions
// not cached here.
func (d *Detector) loadShared(qs []Question) {
	for _, q := range qs {
		if _, ok := d.Cached(q.Domain, q.Host); ok {
			continue
		}
		if st, saved, ok := d.Shared.Load(q.Domain, q.Host); ok && st != Unknown {
			d.mu.Lock()
			d.storeAt(key{q.Domain, q.Host}, st, saved)
			d.mu.Unlock()
		}
	}
}

// store caches st for k, learned now. d.mu is held.
func (d *Detector) store(k key, st Status) { d.storeAt(k, st, d.clock()) }

// storeAt caches st for k, learned at. An answer already past its TTL is
// not kept. d.mu is held.
func (d *Detector) storeAt(k key, st Status, at time.Time) {
	if now := d.clock(); at.After(now) {
		at = now // a clock ahead of ours gains nothing
	}
	ttl := d.TTL
	if ttl <= 0 {
		ttl = time.Hour
	}
	if d.cache == nil {
		d.cache = make(map[key]entry)
	}
	d.prune()
	if exp := at.Add(ttl); d.clock().Before(exp) {
		d.cache[k] = entry{st, exp}
	}
}

// Check returns whether domain is catch-all at the MX host, probing on s
// (an open session to that host) unless the answer is cached. The probe
// goes as the first recipient of a transaction of its own (see
// [smtpprobe.Session.ProbeAlone]). Concurrent checks of one (domain, host)
// share one probe; a caller whose ctx ends while it waits for another's
// probe gets Unknown at once. The probe's result is returned too, nil when
// this caller sent none.
func (d *Detector) Check(ctx context.Context, s *smtpprobe.Session, domain, host string) (Status, *smtpprobe.Result) {
	st, rs := d.CheckMany(ctx, s, []Question{{Domain: domain, Host: host}})
	return st[0], rs[0]
}

// ProbeAddrs returns the random addresses to ask qs with again, whatever
// is cached: for a caller that needs an answer from this moment, such as
// a probe after acceptances (a server may have begun to accept everyone
// since the cached answer). Each is drawn afresh (see probeAddress).
// Send each as the first recipient of a transaction of its own, or after
// the addresses it is to judge, and give the results to Learn.
func (d *Detector) ProbeAddrs(qs []Question) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	addrs := make([]string, len(qs))
	for i, q := range qs {
		addrs[i] = d.probeAddress(q)
	}
	return addrs
}

// Learn records the results of the probes of ProbeAddrs(qs), in order,
// and returns each question's answer from them. A definite answer
// replaces the cached one.
func (d *Detector) Learn(qs []Question, rs []smtpprobe.Result) []Status {
	sts := make([]Status, len(qs))
	for i, q := range qs {
		sts[i] = statusOf(&rs[i])
		d.mu.Lock()
		d.settle(key{q.Domain, q.Host}, &rs[i], sts[i])
		d.mu.Unlock()
		if sts[i] != Unknown {
			d.Record(q.Domain, q.Host, sts[i])
		}
	}
	return sts
}

// A Question is one catch-all question: a domain at one of its MX hosts.
// Like, when given, is the local part of an address of the domain (one
// the probe goes with): the random address is drawn in its shape (see
// RandomLocalPart), so that a server cannot tell it from the addresses
// it is asked to judge by its form. It is not kept. Retry says that the
// probe goes with addresses the server deferred before (a greylisting
// retry): the random address of the question it deferred first goes
// again with them instead of a new one: Prefer where it is one of those
// (a caller may know which it deferred with them: a server that learns
// answers while it defers them answers alike what it deferred together),
// else the oldest.
type Question struct {
	Domain, Host string
	Like         string
	Retry        bool
	Prefer       string
}

// CheckMany answers several questions on one session to their host, as
// Check does one: cached answers at once, the others with one probe each,
// all sent together (see [smtpprobe.Session.ProbeEach]), so that asking
// about many domains a server hosts costs one round trip.
func (d *Detector) CheckMany(ctx context.Context, s *smtpprobe.Session, qs []Question) ([]Status, []*smtpprobe.Result) {
	p := d.Begin(qs)
	return p.Finish(ctx, s.ProbeEach(ctx, p.Addrs()...))
}

// A Pending is a set of questions being answered: Begin takes the cached
// answers and claims the others, the caller sends the probes of Addrs
// on a session to the host (in whatever round trip suits it), and Finish
// records their results. Questions another caller is probing are waited
// for in Finish.
type Pending struct {
	d     *Detector
	qs    []Question
	sts   []Status
	mine  []int // questions whose probes this caller sends
	addrs []string
	waits map[int]*call
}

// Begin starts answering qs.
func (d *Detector) Begin(qs []Question) *Pending {
	p := &Pending{d: d, qs: qs, sts: make([]Status, len(qs)), waits: map[int]*call{}}
	if d.Shared != nil {
		d.loadShared(qs)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.calls == nil {
		d.calls = make(map[key]*call)
	}
	for i, q := range qs {
		k := key{q.Domain, q.Host}
		if e, ok := d.cache[k]; ok && d.clock().Before(e.expires) {
			p.sts[i] = e.status
			continue
		}
		if c, ok := d.calls[k]; ok {
			p.waits[i] = c
			continue
		}
		d.calls[k] = &call{done: make(chan struct{})}
		p.mine = append(p.mine, i)
		p.addrs = append(p.addrs, d.probeAddress(q))
	}
	return p
}

// Addrs are the probe addresses to send, each as the first recipient of a
// transaction of its own.
func (p *Pending) Addrs() []string { return p.addrs }

// Mine returns, for each address of Addrs, the place of its question
// among those given to Begin.
func (p *Pending) Mine() []int { return p.mine }

// Finish records the results of the probes of Addrs, in order, and
// returns every question's answer with the probe result of those this
// caller sent (nil for the others). A caller whose ctx ends while waiting
// for another's probe gets Unknown for it.
func (p *Pending) Finish(ctx context.Context, rs []smtpprobe.Result) ([]Status, []*smtpprobe.Result) {
	d := p.d
	results := make([]*smtpprobe.Result, len(p.qs))
	var learned []int
	d.mu.Lock()
	for n, i := range p.mine {
		k := key{p.qs[i].Domain, p.qs[i].Host}
		r := rs[n]
		st := statusOf(&r)
		d.settle(k, &r, st)
		if st != Unknown {
			d.store(k, st)
			learned = append(learned, i)
		}
		c := d.calls[k]
		delete(d.calls, k)
		c.status = st
		close(c.done)
		p.sts[i], results[i] = st, &r
	}
	d.mu.Unlock()
	if d.Shared != nil {
		for _, i := range learned {
			d.Shared.Save(p.qs[i].Domain, p.qs[i].Host, p.sts[i])
		}
	}
	for i, c := range p.waits {
		select {
		case <-c.done:
			p.sts[i] = c.status
		case <-ctx.Done():
			p.sts[i] = Unknown
		}
	}
	return p.sts, results
}

// maxEntries bounds the cache and the pending probe addresses, so a
// long-running Verifier does not grow without bound.
const maxEntries = 50000

// prune drops expired answers when the cache is full, and half of the
// rest if that is not enough. d.mu is held.
func (d *Detector) prune() {
	if len(d.cache) < maxEntries {
		return
	}
	now := d.clock()
	for k, e := range d.cache {
		if !now.Before(e.expires) {
			delete(d.cache, k)
		}
	}
	for k := range d.cache {
		if len(d.cache) < maxEntries/2 {
			break
		}
		delete(d.cache, k)
	}
}

// classify reads the probe's outcome. Only a specific "no such mailbox"
// says No: a generic rejection (smtpprobe.Rejected) or a refusal about
// limits or policy leaves the question open.
func classify(o smtpprobe.Outcome) Status {
	switch o {
	case smtpprobe.Accepted, smtpprobe.CannotVerify:
		return Yes
	case smtpprobe.MailboxNotFound, smtpprobe.MailboxDisabled:
		return No
	}
	return Unknown
}
