package verify

import (
	"slices"
	"time"

	"github.com/mailverify/mailverify/smtpprobe"
)

// Fronts at a host that defers random addresses (greylisting).
//
// A deferral says nothing of whether the server judges (hostRun.fronted):
// behind a greylisting it may be accepting everyone
// (TestReviewGreyFindingSparesAccepted). A greylisting server defers
// every random address drawn afresh, so the retry of addresses it
// deferred would carry a front it defers too. A front it deferred is
// kept (held) and asked again as the front of a later flush once the
// host's greylisting delay has passed since (hostRun.frontWait): the
// greylisting lets it through as it lets the retried addresses through.
// A front pair the host deferred waits the same before it goes again
// (hostRun.pairWaits); meanwhile a flush carries one front drawn afresh.
// A retry of deferred addresses waits, parked, until such a front is
// due (hostRun.coverDue), so that their first acceptance is fronted.
//
// A random address asked again is not drawn afresh, and a server may
// remember it: one that learns a recipient's answer while it defers it
// (as Postfix does checking unverified recipients, keeping refusals in
// its cache) refuses it again from memory while it accepts everyone it
// has not learned (rev-front F2). So a front asked again after a
// deferral fronts only acceptances of addresses the host was first asked
// no later than it was first deferred (answer.frontsFor). A front the
// host refused or accepted is never asked again as a front (rev-front
// F1: a refused one, asked again, was answered from a negative cache in
// the place of blind acceptances). A held front deferred maxFrontTries
// times is dropped (rev-front F3: a rate limit on a recipient asked
// often).

// A heldFront is a front the host deferred.
type heldFront struct {
	addr  string
	at    time.Time // when it was first deferred
	tick  uint64    // the engine's tick before the flush that first deferred it
	tries int       // times it was deferred
	done  bool      // answered, or deferred maxFrontTries times: not asked again
}

const (
	maxHeldFronts = 8 // kept per (domain, host), done ones included
	maxFrontTries = 3
)

// front returns the address of the domain's next front (one, not a
// pair) for jobs: a held front due where they are all asked at the host
// before, or else one drawn afresh (the last of singleFronts). Planning
// a flush may call it more than once. e.mu is held.
func (hr *hostRun) front(like []string, jobs []*job) string {
	fs := hr.singleFronts(like, jobs)
	return fs[len(fs)-1]
}

// singleFronts returns the addresses of the domain's fronts (no pair)
// for a batch: a held front due where the batch asks again addresses
// asked at the host before, and one drawn afresh where it asks others
// too, or where no held front is due. e.mu is held.
func (hr *hostRun) singleFronts(like []string, batch []*job) []string {
	i := hr.dueFront(batch)
	again := slices.ContainsFunc(batch, func(j *job) bool { return j.run == hr && j.firstTick != 0 })
	first := slices.ContainsFunc(batch, func(j *job) bool { return j.run == hr && j.firstTick == 0 })
	switch {
	case i < 0 || !again:
		return []string{frontAddr(hr, like)}
	case first:
		return []string{hr.held[i].addr, frontAddr(hr, like)}
	}
	return []string{hr.held[i].addr}
}

// dueFront returns the index of the held front deferred last among those
// not done that are due, or -1: whose wait (hostRun.frontWait) has
// passed, or that were deferred no later than an address of jobs the
// host greylisted (its retry is due, so is the front: the wait, learned
// meanwhile, may have grown). e.mu is held.
func (hr *hostRun) dueFront(jobs []*job) int {
	var grey time.Time
	for _, j := range jobs {
		if j.run == hr && !j.greyAt.IsZero() && (grey.IsZero() || j.greyAt.Before(grey)) {
			grey = j.greyAt
		}
	}
	wait, pick := hr.frontWait(), -1
	for i, h := range hr.held {
		due := time.Since(h.at) >= wait || !grey.IsZero() && !h.at.After(grey)
		if !h.done && due && (pick < 0 || h.tick > hr.held[pick].tick) {
			pick = i
		}
	}
	return pick
}

// noteFront keeps the answer r to a front of the host, and returns the
// tick of its first deferral where it was asked again after one (a held
// front, or the pair asked again): zero for one drawn afresh. e.mu is
// held.
func (hr *hostRun) noteFront(f flush, r *smtpprobe.Result) uint64 {
	if r.Address != "" && (r.Address == hr.nextPair[0] || r.Address == hr.nextPair[1]) {
		prev := hr.pairTick
		if r.Seq > 0 && deferred(r.Outcome) && prev == 0 {
			hr.pairAt, hr.pairTick = time.Now(), f.sent
		}
		return prev
	}
	if i := slices.IndexFunc(hr.held, func(h heldFront) bool { return h.addr == r.Address }); i >= 0 {
		h := &hr.held[i]
		switch {
		case r.Seq == 0: // not asked
		case deferred(r.Outcome):
			h.tries++
			h.done = h.done || h.tries >= maxFrontTries
		default:
			h.done = true
		}
		return h.tick
	}
	if r.Seq == 0 || !deferred(r.Outcome) {
		return 0
	}
	if len(hr.held) >= maxHeldFronts {
		i := max(slices.IndexFunc(hr.held, func(h heldFront) bool { return h.done }), 0)
		hr.held = slices.Delete(hr.held, i, i+1)
	}
	hr.held = append(hr.held, heldFront{addr: r.Address, at: time.Now(), tick: f.sent, tries: 1})
	return 0
}

// frontWait is how long after its first deferral a held front (or the
// pair) is asked again: the shortest of the delays known for the host
// (the one it stated, the one learned at the server address,
// GreylistDelay where the caller set it, its first wait): what is
// learned later only shortens it, so a front found due stays due. The
// learned one is the time the first retry that passed took, which a busy
// server's queue lengthens; a front asked too soon is deferred again, an
// RCPT lost, where one asked too late keeps a retry waiting. e.mu is
// held.
func (hr *hostRun) frontWait() time.Duration {
	w := hr.firstWait()
	for _, d := range []time.Duration{hr.stated, hr.e.v.greylisting(hr.key), hr.e.v.GreylistDelay} {
		if d > 0 && d < w {
			w = d
		}
	}
	return w
}

// pairWaits reports whether the domain's front pair, deferred, waits for
// the host's greylisting delay (frontWait) before it goes again: it goes
// with the retry of the addresses deferred with it, where asked with
// later addresses it would decide there and leave the retry a front the
// host defers. e.mu is held.
func (hr *hostRun) pairWaits() bool {
	return hr.pairTick != 0 && hr.leads == "" && time.Since(hr.pairAt) < hr.frontWait()
}

// coverDue returns when a front that may front a retry of j comes due
// at a host that defers random addresses (a held front, or the pair,
// first deferred no later than j, answer.frontsFor): zero where one is
// due now or none will be (nothing held: the retry goes behind what it
// gets). e.mu is held.
func (hr *hostRun) coverDue(j *job) time.Time {
	wait, now := hr.frontWait(), time.Now()
	var due time.Time
	consider := func(tick uint64, at time.Time) bool {
		if tick < j.firstTick {
			return false
		}
		if !at.After(j.greyAt) {
			return true // due with j (dueFront)
		}
		at = at.Add(wait)
		if !at.After(now) {
			return true // due now
		}
		if due.IsZero() || at.Before(due) {
			due = at
		}
		return false
	}
	if hr.pairDue() && hr.pairTick != 0 && hr.leads == "" && consider(hr.pairTick, hr.pairAt) {
		return time.Time{}
	}
	for _, h := range hr.held {
		if !h.done && consider(h.tick, h.at) {
			return time.Time{}
		}
	}
	return due
}

// frontsFor reports whether f, a judged answer before the acceptance a,
// may front it: one drawn afresh may; one asked again after a deferral
// (a held front, the pair, or a list address asked again) only where a's
// address was first asked at the host no later than it was first asked.
// A server that learns a recipient's answer while it defers it, and
// later accepts everyone it has not learned, refuses such a front from
// memory; an address asked no later than it was learned too where
// deferred, and judged where answered at once (a server judging then
// learned a refusal of the front, one accepting everyone an acceptance,
// which fronts nothing).
func (f answer) frontsFor(a answer) bool {
	switch {
	case f.heldTick != 0:
		return a.firstTick != 0 && a.firstTick <= f.heldTick
	case !f.probe && f.firstTick != 0 && f.firstTick < f.sent:
		// A list address asked again (a greylisting retry) may be
		// answered from the same memory (rev-front3).
		return a.firstTick != 0 && a.firstTick <= f.firstTick
	}
	return true
}
