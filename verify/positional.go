package verify

import (
	"errors"
	"slices"

	"github.com/mailverify/mailverify/smtpprobe"
)

// Servers that answer by place. The evidence rules (evidence.go) compare
// answers of one flush: an acceptance is proven by a refusal of a random
// address before it (the front) and one after it (the canary). That holds
// where the server's answers within a flush switch at most once, between
// judging and accepting everyone (a spell: a harvest protection, a soft
// limit, the first recipients of a scope let through). A server that
// judges a domain's first recipient and lets the next few through, then
// judges again, switches twice: the front and the canary are refused,
// honestly, and the addresses between are accepted whether they exist or
// not (TestReviewGroupBlindAfterFront).
//
// Two things close it:
//   - the flushes that carry a domain's addresses at a host put two random
//     addresses at their front, not one (the front pair), until a pair
//     decides: both refused in ways that judge, the second right after the
//     first. A server that lets through the recipients after one it judged
//     accepts the second. No acceptance of the domain at the host is
//     proven before a pair has decided (hostRun.proven);
//   - a fresh random address accepted between two refusals that judge, in
//     one flush (answer.near), is a switch the spell model does not
//     allow. From then on no acceptance at that server is proven
//     (hostRun.proven): they end unknown/cannot_verify, with errByPlace.
//
// The pair costs one RCPT per domain and server address in each call
// (the marks, not the pairs decided, are kept with the Verifier's
// per-address state, servers.go). A server that behaves
// otherwise on a domain's first flush than on later ones, by place, is
// not caught by it; a test that finds one is welcome.

// errByPlace is the error of an acceptance at a server seen to answer by
// place.
var errByPlace = errors.New("the server accepted a random address between two it refused in one flush: it answers by the recipient's place, not its mailbox, so no acceptance there is proven")

// recall takes what earlier calls of the Verifier learned of the domain
// at the host: the host accepting an address it had refused (noteFlip),
// the server answering by place (Verifier.placeOf).
// e.mu is held.
func (hr *hostRun) recall() {
	// A pair decided in an earlier call is not taken: a server that
	// answered honestly then may answer by place now, and only a pair of
	// this call shows it does not (TestReviewGreyFindingPairedAcrossCalls).
	// What is taken makes verdicts only less definite.
	flipped, byPlace := hr.e.v.placeOf(hr.key, hr.d.name)
	if flipped {
		hr.flipped, hr.contradicted = true, true
	}
	if byPlace {
		hr.e.byPlace[hr.key] = true
	}
}

// pairDue reports whether the domain's next flush at the host carries the
// front pair: until a pair has decided. e.mu is held.
func (hr *hostRun) pairDue() bool { return !hr.paired }

// frontCount is the number of random addresses the domain's next flush at
// the host may carry at its front (a held front and one drawn afresh, see
// hostRun.singleFronts). e.mu is held.
func (hr *hostRun) frontCount() int {
	held := slices.ContainsFunc(hr.held, func(h heldFront) bool { return !h.done && !h.second })
	return (1 + boolInt(hr.pairDue())) * (1 + boolInt(held))
}

// frontsOf returns the domain's fronts for a flush: one random address,
// or the pair while it is due. Where the domain's catch-all probe goes
// just before the flush in its transaction, the probe is the pair's
// first (hostRun.leads); lost to a reconnection or to pipelining out of
// step, the run has one random address, and the pair decides nothing
// (decidePairs). e.mu is held.
func (hr *hostRun) frontsOf(like []string, batch []*job) []front {
	if !hr.pairDue() || hr.pairWaits() || hr.pairOut || slices.ContainsFunc(batch, func(j *job) bool { return j.run == hr && j.first.tick != 0 && j.first != hr.pairAsk }) {
		// Addresses asked before go behind what was held for them: the
		// pair, asked again, decides only for addresses first asked with
		// it (pairedFor), and one drawn afresh is deferred where they
		// were. Nor does the pair go in a second flush before the first
		// is answered: asked again, it would front nothing there.
		return hr.heldFronts(like, batch)
	}
	p := hr.pair(like)
	if hr.leads != "" {
		// The probe is the pair's first: deferred (greylisted), the pair
		// goes again as the probe's address and its second, both asked
		// before, where a first never asked would be greylisted anew.
		hr.nextPair[0] = hr.leads
		return []front{{hr: hr, addr: p[1], pair: true}}
	}
	return []front{{hr: hr, addr: p[0]}, {hr: hr, addr: p[1], pair: true}}
}

// trailFronts returns the fronts of acceptances asked again (a trailing
// probe, asking.go): those of frontsOf, except that the pair deferred
// with them goes now, its wait (pairWaits) or not: it is the one pair
// that decides for them, and they are asked again now or not at all.
// e.mu is held.
func (hr *hostRun) trailFronts(like []string, again []*job) []front {
	if hr.pairDue() && !hr.pairOut && hr.leads == "" && hr.pairAsk.tick != 0 && retriedAsk(again, hr) == hr.pairAsk {
		p := hr.pair(like)
		return []front{{hr: hr, addr: p[0]}, {hr: hr, addr: p[1], pair: true}}
	}
	return hr.frontsOf(like, again)
}

// sendsPair notes that addr, a front about to be sent, is the second of
// the domain's pair: it is out until its answer is filed (noteFront).
// e.mu is held.
func (hr *hostRun) sendsPair(addr string) {
	if addr != "" && addr == hr.nextPair[1] {
		hr.pairOut = true
	}
}

// pair returns the addresses of the domain's next front pair: drawn once,
// in the shape of one of like, and kept until a pair is answered other
// than deferred: a pair greylisted goes again as it was, where fresh
// addresses would be deferred again. e.mu is held.
func (hr *hostRun) pair(like []string) [2]string {
	if hr.nextPair[0] == "" {
		hr.nextPair = [2]string{frontAddr(hr, like), frontAddr(hr, like)}
	}
	return hr.nextPair
}

// decidePairs reads the answers to the pair's seconds filed since the
// last call. A pair decides once its second was refused in a way that
// judges, near the start of the domain's run in its transaction, and
// every recipient of the run before it was a random address refused so
// too (the pair's first, and the catch-all probe where it went just
// before): the server judged a recipient after the first of a run.
// Accepted, the second shows the server letting it through (notePlace
// marks it where a refusal that judges follows near); deferred, the pair
// goes again as it was; inside a run of the domain's own addresses (a
// trailing probe continuing the transaction), it tests places other
// than the run's first, and decides nothing. Until a pair decides, no
// acceptance of the domain at the host is proven (hostRun.proven). e.mu is
// held.
func (hr *hostRun) decidePairs() {
	for _, p := range hr.pairAns {
		p = hr.kept(p)
		run, deferredRun := hr.runTo(p)
		switch {
		case deferredRun: // asked again as it was (hostRun.pair, heldFronts)
			continue
		case len(run) >= 2 && judgedRandoms(run):
			switch k := p.held; {
			case !anyAgain(run):
				hr.paired = true
			case k.tick != 0 && run[len(run)-2].held == k:
				// Asked again, the pair may be answered from a memory of
				// the server's: it decides only for the addresses first
				// asked with it (answer.frontsFor); a pair drawn afresh
				// goes next.
				hr.notePairAsk(k)
			}
		}
		if hr.paired || p.rcpt == hr.nextPair[1] {
			hr.nextPair, hr.pairAsk, hr.pairOut = [2]string{}, askKey{}, false
		}
	}
	hr.pairAns = hr.pairAns[:0]
}

// runTo returns the answers of the domain's run in p's transaction up to
// p, near it, and whether one of them was deferred. e.mu is held.
func (hr *hostRun) runTo(p answer) (run []answer, deferredRun bool) {
	all := hr.allAnswers()
	for seq := p.seq; ; seq-- {
		i := slices.IndexFunc(all, func(x answer) bool { return x.seq == seq && x.sameTx(p) })
		if i < 0 || !all[i].near(p) {
			break
		}
		run = append(run, all[i])
		deferredRun = deferredRun || deferred(all[i].o)
	}
	slices.Reverse(run)
	return run, deferredRun
}

// pairFronts reports whether a, an acceptance, came after a front pair
// in its transaction (where the server pipelines, in its flush, as
// hostRun.fronted reads fronts): a run of the domain's recipients that
// opens with two random addresses the host judged (the pair, or the
// catch-all probe and the pair's second), in the same way decidePairs
// reads it. The pair need not be in a's run: the flush puts every
// domain's fronts before the batch, and what the pair shows is that the
// server judged a recipient after the first of a run. While the pair is
// due, one judged random address fronts nothing: a server that judges a
// run's first recipient and lets the next through judged it, and let the
// acceptances after it through. That is where the catch-all probe that
// was to be the pair's first was lost (a reconnection, pipelining out of
// step): the acceptances are asked again behind a pair (engine.trails).
// e.mu is held.
func (hr *hostRun) pairFronts(a answer) bool {
	for _, x := range hr.answers {
		if !x.sameTx(a) || x.seq >= a.seq || a.piped && x.flush != a.flush || !freshRandom(x) || !x.judges() {
			continue
		}
		run, _ := hr.runTo(x)
		if len(run) >= 2 && freshRandom(run[0]) && freshRandom(run[1]) && run[0].judges() && run[1].judges() &&
			run[0].frontsFor(a) && run[1].frontsFor(a) {
			return true
		}
	}
	return false
}

// anyAgain reports whether an answer of run is to a random address
// asked again (answer.held).
func anyAgain(run []answer) bool {
	return slices.ContainsFunc(run, func(a answer) bool { return a.held.tick != 0 })
}

// notePairAsk notes that a pair asked again decided for the addresses
// first asked where k says. The latest maxPairAsks are kept: one
// forgotten leaves acceptances unproven, never a wrong verdict. e.mu is
// held.
func (hr *hostRun) notePairAsk(k askKey) {
	if slices.Contains(hr.pairAsks, k) {
		return
	}
	if len(hr.pairAsks) >= maxPairAsks {
		hr.pairAsks = hr.pairAsks[1:]
	}
	hr.pairAsks = append(hr.pairAsks, k)
}

// maxPairAsks bounds hostRun.pairAsks.
const maxPairAsks = 64

// pairedFor reports whether a pair decided for a, an acceptance: one
// drawn afresh for any, one asked again for addresses first asked with
// it (decidePairs). e.mu is held.
func (hr *hostRun) pairedFor(a answer) bool {
	return hr.paired || a.first.tick != 0 && slices.Contains(hr.pairAsks, a.first)
}

// freshRandom reports whether a is an answer to a random address drawn afresh.
func freshRandom(a answer) bool { return a.probe && !a.again }

// judgedRandoms reports whether every answer of run is to a fresh random
// address and a refusal that judges.
func judgedRandoms(run []answer) bool {
	for _, a := range run {
		if !a.probe || a.again || !a.judges() {
			return false
		}
	}
	return true
}

// kept returns a as hr.answers keeps it (a refusal an acceptance after it
// made count is marked there), or a where it is not kept.
func (hr *hostRun) kept(a answer) answer {
	for _, x := range hr.answers {
		if x.conn == a.conn && x.tx == a.tx && x.seq == a.seq {
			return x
		}
	}
	return a
}

// deferred reports whether o puts an answer off: a 4xx that says nothing
// of the address yet.
func deferred(o smtpprobe.Outcome) bool {
	return o == smtpprobe.Greylisted || o == smtpprobe.RateLimited || o == smtpprobe.TemporaryFailure
}

// notePlace looks at the random addresses of the domain the host accepted
// since it last looked: one with a refusal that judges before it and
// another after it, both near it (in its flush, or with no wait between
// without pipelining), marks the server as answering by place. A random
// address asked again (hostRun.spell) does not: a cache of answers
// accepts it again. e.mu is held.
func (hr *hostRun) notePlace() {
	hr.decidePairs()
	seen := hr.placeSeen
	check := func(b answer) {
		hr.placeSeen = max(hr.placeSeen, b.got)
		if b.got <= seen || b.again || hr.e.byPlace[hr.key] {
			return
		}
		before, after := false, false
		for _, a := range hr.answers {
			if !a.judges() || !a.near(b) {
				continue
			}
			before = before || a.seq < b.seq
			after = after || a.seq > b.seq
		}
		if before && after {
			hr.e.byPlace[hr.key] = true
			hr.e.v.noteByPlace(hr.key)
		}
	}
	for _, b := range hr.blind {
		check(b)
	}
	for _, b := range hr.answers {
		if b.probe && b.o == smtpprobe.Accepted {
			check(b)
		}
	}
}

// byPlace gives j, accepted and not proven, the reason where the server
// answers by place, or accepted an address it said had no mailbox
// (hostRun.noteFlip). e.mu is held.
func (hr *hostRun) byPlace(j *job) {
	var err error
	switch {
	case hr.e.byPlace[hr.key]:
		err = errByPlace
	case hr.flipped:
		err = errFlipped
	default:
		return
	}
	o := *j.out
	o.Err = err
	j.out = &o
}

// runBefore reports whether an answer of the domain came right before a
// in its transaction: a is not the first of its domain's run there.
// e.mu is held.
func (hr *hostRun) runBefore(a answer) bool {
	return slices.ContainsFunc(hr.allAnswers(), func(x answer) bool { return x.sameTx(a) && x.seq == a.seq-1 })
}

// allAnswers returns, in a slice of its own, the answers the host gave
// about the domain: those kept (hr.answers) and the accepted fronts
// (hr.blind). e.mu is held.
func (hr *hostRun) allAnswers() []answer {
	return slices.Concat(hr.answers, hr.blind)
}

// inTx reports whether the host answered a recipient of the domain in c's
// open transaction. e.mu is held.
func (hr *hostRun) inTx(c *conn) bool {
	return slices.ContainsFunc(hr.allAnswers(), func(x answer) bool { return x.conn == c.lastConn && x.tx == c.lastTx })
}
