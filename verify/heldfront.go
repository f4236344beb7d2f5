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
// (hostRun.pairWaits); meanwhile a flush carries fronts drawn afresh: a
// pair while no pair has decided for every address, held as a pair
// where deferred (hostRun.heldFronts). A retry of deferred addresses
// waits, parked, until such a front (a pair, where the pair is due) is
// due (hostRun.coverDue), so that their first acceptance is fronted.
//
// A random address asked again is not drawn afresh, and a server may
// remember it: one that learns a recipient's answer while it defers it
// (as Postfix does checking unverified recipients, keeping refusals in
// its cache) refuses it again from memory while it accepts everyone it
// has not learned (rev-front F2). So a front asked again after a
// deferral fronts only acceptances of addresses the host was first asked
// in the flush that first deferred it (answer.frontsFor). A front the
// host refused or accepted is never asked again as a front (rev-front
// F1: a refused one, asked again, was answered from a negative cache in
// the place of blind acceptances). A held front deferred maxFrontTries
// times is dropped (rev-front F3: a rate limit on a recipient asked
// often).
//
// The same holds for every random address asked again (the Detector's
// probe or canary, the pair): it fronts and refutes only addresses
// first asked with it (hostRun.randomAskedBefore), and a pair asked
// again decides only for those (hostRun.pairedFor; rev-front4, rev-f4).
// So a pair deferred and asked again decides for the addresses deferred
// with it, and each flush of first asks at such a host carries a pair
// of its own.

// A heldFront is a front the host deferred. Where no pair has decided
// for every address (hostRun.pairedFor), a flush's fronts drawn afresh
// are a pair, held as two: the first with its mate, the second marked.
type heldFront struct {
	addr   string
	mate   string    // the second of the pair this is the first of, or ""
	second bool      // the second of a pair: asked only after its first
	at     time.Time // when it was first deferred
	ask    askKey    // the flush (and connection) that first deferred it
	tries  int       // times it was deferred
	done   bool      // answered, or deferred maxFrontTries times: not asked again
}

const (
	maxHeldFronts = 256 // kept per (domain, host), done ones included
	maxFrontTries = 3
)

// heldFronts returns the domain's fronts for a batch where its pair
// (hostRun.nextPair) does not go: the front held for the addresses the
// batch asks again (those first asked at the host in one flush, batch.go:
// a held front or pair first deferred in that flush, heldFor), and fronts
// drawn afresh where it asks others too, or where nothing is held for
// them: a pair where the pair is due (a pair asked again decides only for
// addresses first asked with it, hostRun.pairedFor), kept in hr.drawn
// until the host answers it, one front otherwise. e.mu is held.
func (hr *hostRun) heldFronts(like []string, batch []*job) []front {
	k := retriedAsk(batch, hr)
	first := slices.ContainsFunc(batch, func(j *job) bool { return j.run == hr && j.first.tick == 0 })
	var fs []front
	if i := hr.heldFor(k); i >= 0 {
		h := hr.held[i]
		fs = append(fs, front{hr: hr, addr: h.addr})
		if h.mate != "" && hr.pairDue() {
			fs = append(fs, front{hr: hr, addr: h.mate, pair: true})
		}
		if !first {
			return fs
		}
	}
	if !hr.pairDue() {
		return append(fs, front{hr: hr, addr: frontAddr(hr, like)})
	}
	p := [2]string{hr.leads, frontAddr(hr, like)}
	if p[0] == "" {
		p[0] = frontAddr(hr, like)
		fs = append(fs, front{hr: hr, addr: p[0]})
	} // else the catch-all probe going just before is its first (frontsOf)
	if len(hr.drawn) >= maxHeldFronts {
		hr.drawn = hr.drawn[1:]
	}
	hr.drawn = append(hr.drawn, p)
	return append(fs, front{hr: hr, addr: p[1], pair: true})
}

// retriedAsk returns where the addresses of js asked at hr before were
// first asked there (the latest, where there are several), or zero
// where none was.
func retriedAsk(js []*job, hr *hostRun) askKey {
	var k askKey
	for _, j := range js {
		if j.run == hr && j.first.tick > k.tick {
			k = j.first
		}
	}
	return k
}

// heldFor returns the index of the held front, not done, first deferred
// where k says (only it may front the addresses first asked there,
// answer.frontsFor), or -1: a pair where the pair is due and one
// is held, then one whose wait (hostRun.frontWait) has passed; one not
// due yet (a retry split from its first batch goes before what was held
// for it) may pass already, where one drawn afresh would be deferred.
// The second of a pair is not one. e.mu is held.
func (hr *hostRun) heldFor(k askKey) int {
	if k.tick == 0 {
		return -1
	}
	wait, pick := hr.frontWait(), -1
	rank := func(h heldFront) int {
		return 2*boolInt(hr.pairDue() && h.mate != "") + boolInt(time.Since(h.at) >= wait)
	}
	for i, h := range hr.held {
		if !h.done && !h.second && h.ask == k && (pick < 0 || rank(h) > rank(hr.held[pick])) {
			pick = i
		}
	}
	return pick
}

// isFront reports whether addr is one of the domain's fronts held, or
// its pair. e.mu is held.
func (hr *hostRun) isFront(addr string) bool {
	return addr == hr.nextPair[0] || addr == hr.nextPair[1] || slices.ContainsFunc(hr.held, func(h heldFront) bool { return h.addr == addr })
}

// noteFront keeps the answer r to a front of the host, and returns
// where it was first deferred where it was asked again after that (a
// held front, or the pair asked again): zero for one drawn afresh. e.mu
// is held.
func (hr *hostRun) noteFront(f flush, r *smtpprobe.Result) askKey {
	here := askKey{f.sent, connID{f.c.id, r.Conn}}
	if r.Address != "" && (r.Address == hr.nextPair[0] || r.Address == hr.nextPair[1]) {
		hr.pairOut = hr.pairOut && r.Address != hr.nextPair[1]
		prev := hr.pairAsk
		if r.Seq > 0 && deferred(r.Outcome) && prev.tick == 0 {
			hr.pairAt, hr.pairAsk = time.Now(), here
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
		return h.ask
	}
	h := heldFront{addr: r.Address, at: time.Now(), ask: here, tries: 1}
	if k := slices.IndexFunc(hr.drawn, func(p [2]string) bool { return p[0] == r.Address || p[1] == r.Address }); k >= 0 {
		p := hr.drawn[k]
		h.mate, h.second = p[1], p[1] == r.Address
		if h.second || r.Seq == 0 || !deferred(r.Outcome) {
			hr.drawn = slices.Delete(hr.drawn, k, k+1) // answered, or its second: no mate to look for
		}
		if h.second {
			h.mate = ""
			i := slices.IndexFunc(hr.held, func(x heldFront) bool { return x.mate == r.Address })
			switch {
			case i < 0:
				return askKey{} // its first was answered: it goes alone no more
			case r.Seq == 0 || !deferred(r.Outcome):
				hr.held[i].mate = "" // answered: its first is held alone
			}
		}
	}
	if r.Seq == 0 || !deferred(r.Outcome) {
		return askKey{}
	}
	if len(hr.held) >= maxHeldFronts {
		i := max(slices.IndexFunc(hr.held, func(h heldFront) bool { return h.done }), 0)
		hr.held = slices.Delete(hr.held, i, i+1)
	}
	hr.held = append(hr.held, h)
	return askKey{}
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
	return hr.pairAsk.tick != 0 && hr.leads == "" && time.Since(hr.pairAt) < hr.frontWait()
}

// coverDue returns when a front that may front a retry of j comes due
// at a host that defers random addresses (a held front, or the pair,
// first deferred with j, answer.frontsFor): zero where one is
// due now or none will be (nothing held: the retry goes behind what it
// gets). e.mu is held.
func (hr *hostRun) coverDue(j *job) time.Time {
	wait, now := hr.frontWait(), time.Now()
	// Where no pair has decided for j, only a pair covers it.
	pairs := hr.pairDue() && !hr.pairedFor(answer{first: j.first})
	var due time.Time
	consider := func(k askKey, at time.Time) bool {
		if k != j.first {
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
	if hr.pairDue() && hr.pairAsk.tick != 0 && hr.leads == "" && consider(hr.pairAsk, hr.pairAt) {
		return time.Time{}
	}
	for _, h := range hr.held {
		if !h.done && !h.second && (!pairs || h.mate != "") && consider(h.ask, h.at) {
			return time.Time{}
		}
	}
	return due
}

// frontsFor reports whether f, a judged answer before the acceptance a,
// may front (or, after it, refute) it: one drawn afresh may; one asked
// again after a deferral (a held front, the pair, the Detector's
// address, or a list address asked again) only where a's address was
// first asked at the host in the flush that first asked it. A server
// that learns a recipient's answer while it defers it, and later accepts
// everyone it has not learned, refuses such a front from memory; an
// address deferred with it was learned with it, and forgotten with it,
// where one asked earlier may not have been (learning begun late, a
// cache that forgets: rev-f4 F1) nor one asked later (rev-front4).
// Stated limit: a boundary of the server's memory that falls inside one
// flush (learning begun, or an expiry, between two of its RCPTs) can
// split an address from the random addresses deferred with it.
func (f answer) frontsFor(a answer) bool {
	switch {
	case f.held.tick != 0:
		return a.first == f.held
	case !f.probe && f.first.tick != 0 && f.first.tick < f.sent:
		// A list address asked again (a greylisting retry) may be
		// answered from the same memory (rev-front3).
		return a.first == f.first
	}
	return true
}
