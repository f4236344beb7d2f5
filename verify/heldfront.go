package verify

import (
	"math"
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
// kept (held) and asked again as the front of a later flush, once the
// host's wait before a retry has passed since (hostRun.firstWait): the
// greylisting lets it through with the addresses deferred with it.
//
// A random address asked again is not drawn afresh, and a server may
// remember it: one that learns a recipient's answer while it defers it
// (as Postfix does checking unverified recipients, keeping refusals in
// its cache) refuses it again from memory while it accepts everyone it
// has not learned (rev-front F2). So a held front fronts only the
// acceptances of addresses the host first deferred no later than it
// (answer.frontsFor): what it may have learned of the front it learned of
// them. A front the host refused or accepted is never asked again as a
// front (rev-front F1: a refused one, asked again, was answered from a
// negative cache in the place of blind acceptances). A held front
// deferred again (a rate limit on a recipient asked often, rev-front F3)
// is dropped after maxFrontTries. An acceptance behind a front the host
// deferred waits, parked, for a held front that may front it to come due
// (hostRun.parkForFronts), within its greylisting budget.

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
// pair): the held front deferred last among those whose wait has passed
// (it fronts the addresses first deferred no later than it, which a
// retry now asks again), or one drawn afresh (frontAddr). Planning a
// flush may call it more than once. e.mu is held.
func (hr *hostRun) front(like []string) string {
	if h, ok := hr.dueFront(); ok {
		return h.addr
	}
	return frontAddr(hr, like)
}

// dueFront returns the held front deferred last among those not done
// whose wait (hostRun.firstWait) has passed. e.mu is held.
func (hr *hostRun) dueFront() (heldFront, bool) {
	wait, pick := hr.firstWait(), -1
	for i, h := range hr.held {
		if !h.done && time.Since(h.at) >= wait && (pick < 0 || h.tick > hr.held[pick].tick) {
			pick = i
		}
	}
	if pick < 0 {
		return heldFront{}, false
	}
	return hr.held[pick], true
}

// noteFront keeps the answer r to a front of the host, and returns the
// tick of its first deferral where it was a held front (zero for one
// drawn afresh). A pair's address is not held: the pair goes again as
// it was (hostRun.pair). e.mu is held.
func (hr *hostRun) noteFront(f flush, r *smtpprobe.Result) uint64 {
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
	if r.Seq == 0 || !deferred(r.Outcome) || r.Address == hr.nextPair[0] || r.Address == hr.nextPair[1] {
		return 0
	}
	if len(hr.held) >= maxHeldFronts {
		i := slices.IndexFunc(hr.held, func(h heldFront) bool { return h.done })
		hr.held = slices.Delete(hr.held, max(i, 0), max(i, 0)+1)
	}
	hr.held = append(hr.held, heldFront{addr: r.Address, at: time.Now(), tick: f.sent, tries: 1})
	return 0
}

// frontDue returns when a held front that may front j (first deferred no
// later than j's address, answer.frontsFor) comes due, where none is due
// now and one comes due within j's budget (hostRun.jobEnd). e.mu is
// held.
func (hr *hostRun) frontDue(j *job) (time.Time, bool) {
	if j.greyTick == 0 {
		return time.Time{}, false
	}
	wait, now := hr.firstWait(), time.Now()
	var due time.Time
	for _, h := range hr.held {
		if h.done || h.tick < j.greyTick {
			continue
		}
		at := h.at.Add(wait)
		if !at.After(now) {
			return time.Time{}, false // due now: asked with it
		}
		if due.IsZero() || at.Before(due) {
			due = at
		}
	}
	return due, !due.IsZero() && due.Before(hr.jobEnd(j))
}

// awaitsFront reports whether j, accepted and not fronted, waits for a
// held front to come due rather than be asked again now behind a front
// the host would defer. e.mu is held.
func (hr *hostRun) awaitsFront(j *job) bool {
	if j.out.Outcome != smtpprobe.Accepted || !j.answered || j.ans.fronted || hr.proven(j) {
		return false
	}
	_, ok := hr.frontDue(j)
	return ok
}

// parkForFronts parks the acceptances that await a held front
// (awaitsFront) until it comes due: they go back to the host's queue
// then, as a greylisting retry does (hostRun.unpark), and are asked again
// behind it. e.mu is held.
func (hr *hostRun) parkForFronts() {
	keep := hr.decided[:0]
	for _, j := range hr.decided {
		if !hr.awaitsFront(j) {
			keep = append(keep, j)
			continue
		}
		j.frontAt, _ = hr.frontDue(j)
		j.trailed, j.rebrackets = false, 0
		hr.pending++
		hr.parked = append(hr.parked, j)
		j.at = atParked
		hr.e.spill(j, math.MaxInt)
	}
	clear(hr.decided[len(keep):])
	hr.decided = keep
}

// frontsFor reports whether f, a judged answer before the acceptance a,
// may front it: one drawn afresh may; a held front only where a's
// address was first deferred at the host no later than it (heldFront).
func (f answer) frontsFor(a answer) bool {
	return f.heldTick == 0 || a.greyTick != 0 && a.greyTick <= f.heldTick
}

// deferringNew reports whether the host deferred a random address of the
// domain drawn afresh in c's open transaction and batch asks no address
// of the domain again after a deferral: a greylisting server defers the
// batch's addresses as it did the front, so a new front would be an RCPT
// for nothing (without pipelining, where the fronts of one transaction
// serve its later batches, see engine.fronts). e.mu is held.
func (hr *hostRun) deferringNew(c *conn, batch []*job) bool {
	if slices.ContainsFunc(batch, func(j *job) bool { return j.run == hr && !j.greyAt.IsZero() }) {
		return false
	}
	return slices.ContainsFunc(hr.answers, func(x answer) bool {
		return x.probe && x.heldTick == 0 && deferred(x.o) && x.conn == c.lastConn && x.tx == c.lastTx
	})
}

// frontParked returns the earliest time a parked acceptance's held front
// comes due (parkForFronts). e.mu is held.
func (hr *hostRun) frontParked() (time.Time, bool) {
	var at time.Time
	for _, j := range hr.parked {
		if !j.frontAt.IsZero() && (at.IsZero() || j.frontAt.Before(at)) {
			at = j.frontAt
		}
	}
	return at, !at.IsZero()
}
