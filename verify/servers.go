package verify

import (
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
	held     *holds // RCPTs of the bucket kept for trailing flushes (pace.go)
}

func (v *Verifier) newServerLimit() serverLimit {
	return serverLimit{
		sessions: semaphore.NewWeighted(int64(orDefault(v.PerHost, defaultPerHost))),
		rcpts:    rate.NewLimiter(rate.Limit(orDefault(v.PerHostRate, defaultPerHostRate)), batchSize),
		held:     &holds{},
	}
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
	// What the evidence rules learned there, kept across calls
	// (positional.go, harvest.go): the server answers by place, and the
	// domains (at most maxFlipped) of which the host accepted an address
	// it had refused.
	byPlace bool
	flipped map[string]struct{}
}

// maxFlipped bounds the domains a server address's state remembers as
// flipped; past it the memory starts over (a later call learns it again).
const maxFlipped = 4096

// placeOf returns what earlier calls learned at the server address: the
// host accepted an address of the domain it had refused, and the server
// answers by place. A later call proves nothing there either.
func (v *Verifier) placeOf(addr, domain string) (flipped, byPlace bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if h, ok := v.hosts[addr]; ok {
		_, flipped = h.flipped[domain]
		return flipped, h.byPlace
	}
	return false, false
}

// noteFlipped keeps that the host at addr accepted an address of the
// domain it had refused.
func (v *Verifier) noteFlipped(addr, domain string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	h, ok := v.hosts[addr]
	if !ok {
		return
	}
	if h.flipped == nil || len(h.flipped) >= maxFlipped {
		h.flipped = make(map[string]struct{})
	}
	h.flipped[domain] = struct{}{}
}

// noteByPlace keeps that the server at addr answers by place.
func (v *Verifier) noteByPlace(addr string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if h, ok := v.hosts[addr]; ok {
		h.byPlace = true
	}
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
	full := int64(orDefault(v.PerHost, defaultPerHost))
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
