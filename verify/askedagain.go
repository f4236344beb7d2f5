package verify

import "slices"

// Random addresses asked again.
//
// A random address is drawn afresh for each question, but some are asked
// again: a front or a pair the host deferred (heldfront.go), the
// Detector's probe or canary it deferred (catchall.Question.Retry). A
// server may answer such an address from memory (one that learns the
// answers it defers), so its answer speaks only for addresses first
// asked in the flush that first asked it (answer.frontsFor): learned
// with it, and forgotten with it. hostRun.randAsked keeps,
// for the random addresses of a (domain, host), when each was first
// asked.

// randomAskedBefore reports whether a is an answer to a random address
// the host was asked before (the Detector's probe address, asked again;
// a front pair or a canary asked again after a greylisting), and notes
// it; asked before, a is given where it was first asked as held where it
// has none: a server that learned its answer while deferring it answers
// from memory, so it fronts and refutes only what was first asked with
// it (answer.frontsFor, hostRun.proven; rev-front4, rev-f4). The Detector's
// addresses are noted when sent (engine.noteSent), the others when
// answered. e.mu is held.
func (hr *hostRun) randomAskedBefore(a *answer) bool {
	if !a.probe || a.rcpt == "" {
		return false
	}
	i := slices.IndexFunc(hr.randAsked, func(r randAsk) bool { return r.rcpt == a.rcpt })
	if i < 0 {
		hr.noteRandom(randAsk{rcpt: a.rcpt, ask: askKey{a.sent, a.conn}, deferred: deferred(a.o), answered: true})
		return false
	}
	r := &hr.randAsked[i]
	before := r.answered || r.resent
	if !before {
		r.ask.conn = a.conn // noted when sent: where it went is known now
	}
	r.answered, r.deferred = true, deferred(a.o)
	if before && a.held.tick == 0 {
		a.held = r.ask
	}
	return before
}

// noteSent notes addr, a random address of the Detector's for hr's
// domain, sent in the flush of tick; one sent again before an answer
// came may have reached the server the first time. One the Detector
// gives again that this run never sent was deferred in an earlier call
// (a greylisted address sent back to the bus and verified anew): where
// it was first asked is not known here, and it is taken as first asked
// now, as the addresses of the earlier call asked again with it are
// (job.first is per call): a stated limit. e.mu is held.
func (e *engine) noteSent(hr *hostRun, addr string, tick uint64) {
	i := slices.IndexFunc(hr.randAsked, func(r randAsk) bool { return r.rcpt == addr })
	if i >= 0 {
		hr.randAsked[i].resent = hr.randAsked[i].resent || !hr.randAsked[i].answered
		return
	}
	hr.noteRandom(randAsk{rcpt: addr, ask: askKey{tick: tick}})
}

// noteRandom keeps r in hr.randAsked. Where maxRandAsked are kept, the
// oldest answered for good goes first: only one deferred is asked again
// (a held front, the pair, the Detector's), and one forgotten would be
// taken for one drawn afresh. e.mu is held.
func (hr *hostRun) noteRandom(r randAsk) {
	if len(hr.randAsked) >= maxRandAsked {
		i := max(0, slices.IndexFunc(hr.randAsked, func(r randAsk) bool { return r.answered && !r.deferred }))
		hr.randAsked = slices.Delete(hr.randAsked, i, i+1)
	}
	hr.randAsked = append(hr.randAsked, r)
}

// A randAsk is a random address the host was asked: the flush that
// first asked it (its connection once an answer came), whether its latest
// answer deferred it, whether an answer came, and whether it was sent
// again before one did.
type randAsk struct {
	rcpt                       string
	ask                        askKey
	deferred, answered, resent bool
}

// An askKey is where an address was first asked at a host: the engine's
// tick of the flush, and the connection it went on. Addresses first
// asked in one flush on one connection reached the same server at the
// same moment (a load balancer's nodes keep memories of their own,
// rev-f4b), so what the server remembers of one it remembers of the
// others. The zero key is none.
type askKey struct {
	tick uint64
	conn connID
}

// maxRandAsked bounds the random addresses a hostRun remembers asking:
// more than it may ask again (maxHeldFronts held fronts and as many
// pairs drawn, the pair, the Detector's maxHeld).
const maxRandAsked = 512

// askedSince returns the random address the host deferred, asked first
// among those asked in the flush that first asked there the jobs of js
// asked before (the latest such flush), other than a front
// (heldfront.go), or "": asked again with them, a random address proves
// their acceptances only where it was first asked with them
// (answer.frontsFor), so the Detector is asked for it
// (catchall.Question.Prefer). e.mu is held.
func (hr *hostRun) askedSince(js []*job) string {
	k := retriedAsk(js, hr)
	for _, r := range hr.randAsked { // in the order first asked
		if k.tick != 0 && r.ask == k && r.deferred && !hr.isFront(r.rcpt) {
			return r.rcpt
		}
	}
	return ""
}
