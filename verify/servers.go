package verify

import (
	"context"
	"sync"
	"time"

	"github.com/mailverify/mailverify/smtpprobe"
	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"
)

// A serverLimit is the promise made to one mail server address (IP and
// port), whatever domains, MX names or politeness keys lead there, and
// shared by every VerifySeq call of a Verifier:
//
//   - sessions: at most PerHost connections open at once;
//   - RCPTs: every RCPT command counts (the addresses, catch-all probes,
//     trailing probes, controls, refusals asked again, greylisting
//     retries), at PerHostRate a second with a burst of batchSize (10):
//     in any span of t seconds the server sees at most 10 + PerHostRate×t
//     of them. A flush carries at most batchSize RCPTs, so none has to
//     be split.
//
// Budgets per egress address or provider (issue 29) are further limits a
// flush waits for beside this one.
type serverLimit struct {
	sessions *semaphore.Weighted
	rcpts    *rate.Limiter
}

func (v *Verifier) newServerLimit() serverLimit {
	return serverLimit{
		sessions: semaphore.NewWeighted(int64(orDefault(v.PerHost, 2))),
		rcpts:    rate.NewLimiter(rate.Limit(orDefault(v.PerHostRate, 10)), batchSize),
	}
}

// pace waits until n more RCPTs may go to the server (smtpprobe's
// Prober.Pace). When the wait would outlast ctx's deadline it takes no
// tokens and returns when ctx ends, so the flush fails as at its deadline
// (the session does not reconnect and ask again).
func (l serverLimit) pace(ctx context.Context, n int) error {
	for n > 0 {
		k := min(n, l.rcpts.Burst())
		if err := l.rcpts.WaitN(ctx, k); err != nil {
			<-ctx.Done()
			return ctx.Err()
		}
		n -= k
	}
	return nil
}

// hostState is one server address's limits, and what sessions learned
// about the server there.
type hostState struct {
	limit  serverLimit
	last   time.Time
	quirks smtpprobe.Quirks
	// greyDelay is the greylisting delay learned there: from the first
	// greylisting of an address to the first retry it passed.
	greyDelay time.Duration
}

// server returns the state of one mail server address, made on first use.
func (v *Verifier) server(addr string) *hostState {
	v.mu.Lock()
	defer v.mu.Unlock()
	h, ok := v.hosts[addr]
	if !ok {
		v.pruneHosts()
		h = &hostState{limit: v.newServerLimit()}
		v.hosts[addr] = h
	}
	h.last = time.Now()
	return h
}

// quirks returns what earlier sessions learned about the server at addr.
func (v *Verifier) quirks(addr string) smtpprobe.Quirks {
	v.mu.Lock()
	defer v.mu.Unlock()
	if h, ok := v.hosts[addr]; ok {
		return h.quirks
	}
	return smtpprobe.Quirks{}
}

// learn keeps what a session learned about the server at addr.
func (v *Verifier) learn(addr string, q smtpprobe.Quirks) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if h, ok := v.hosts[addr]; ok {
		h.quirks = q
	}
}

// maxHosts bounds the per-address state a long-running Verifier keeps.
const maxHosts = 10000

// pruneHosts forgets addresses idle for ten minutes with no session open,
// once the map is full. v.mu is held.
func (v *Verifier) pruneHosts() {
	if len(v.hosts) < maxHosts {
		return
	}
	full := int64(orDefault(v.PerHost, 2))
	for k, h := range v.hosts {
		if time.Since(h.last) > 10*time.Minute && h.limit.sessions.TryAcquire(full) {
			h.limit.sessions.Release(full)
			delete(v.hosts, k)
		}
	}
}

// learnGreylisting records the greylisting delay seen at a server
// address: from an address's first greylisting to the first retry that
// passed. The first one learned stays; it is at least the server's delay.
func (v *Verifier) learnGreylisting(addr string, d time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if h, ok := v.hosts[addr]; ok && h.greyDelay == 0 {
		h.greyDelay = d
	}
}

// greylisting returns the greylisting delay learned at addr, zero for
// none.
func (v *Verifier) greylisting(addr string) time.Duration {
	v.mu.Lock()
	defer v.mu.Unlock()
	if h, ok := v.hosts[addr]; ok {
		return h.greyDelay
	}
	return 0
}

// A pacer is one session's share of its server's RCPT pace (its
// Prober.Pace). A flush can leave room behind it (prepay: a batch's
// trailing probes, which must follow it with no wait in between), and it
// counts the flushes that waited: evidence is not compared across a wait
// (see answer.waits).
type pacer struct {
	lim serverLimit
	// budget, when set, is the egress's budget, taken before the
	// server's pace: its waits are waits too (egress.go).
	budget func(ctx context.Context, n int) error
	mu     sync.Mutex
	ahead  int // RCPTs the next flush leaves room for in the bucket
	waits  int
}

func (p *pacer) pace(ctx context.Context, n int) error {
	p.mu.Lock()
	extra := p.ahead
	p.ahead = 0
	p.mu.Unlock()
	start := time.Now()
	var err error
	if p.budget != nil {
		err = p.budget(ctx, n)
	}
	if err == nil {
		err = p.lim.paceWithRoom(ctx, n, extra)
	}
	if time.Since(start) >= time.Millisecond { // shorter is a round trip's noise
		p.mu.Lock()
		p.waits++
		p.mu.Unlock()
	}
	return err
}

// prepay has the next flush leave room for n more RCPTs after it.
func (p *pacer) prepay(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ahead = n
}

// clear forgets room asked for and not used.
func (p *pacer) clear() { p.prepay(0) }

// count is how many flushes have waited for the pace.
func (p *pacer) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waits
}

// paceWithRoom is pace for n RCPTs that waits, before taking them, until
// the bucket also holds extra more (within the burst), so that extra
// RCPTs can follow right after without waiting. Tokens are taken only as
// RCPTs go: the promise holds at the server. When the deadline comes
// first, it paces n alone.
func (l serverLimit) paceWithRoom(ctx context.Context, n, extra int) error {
	// One wait at most: other sessions to the server may take the room
	// meanwhile; then the trailing flush waits, and askTrailing asks the
	// acceptances again in it.
	want := float64(min(n+extra, l.rcpts.Burst()))
	if tok := l.rcpts.Tokens(); extra > 0 && n > 0 && tok < want {
		d := time.Duration((want - tok) / float64(l.rcpts.Limit()) * float64(time.Second))
		if dl, ok := ctx.Deadline(); !ok || time.Until(dl) >= d {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
	}
	return l.pace(ctx, n)
}

// short reports whether n RCPTs would wait for the pace now.
func (p *pacer) short(n int) bool {
	return n > 0 && p.lim.rcpts != nil && p.lim.rcpts.Tokens() < float64(n)
}
