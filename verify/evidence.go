package verify

import (
	"github.com/mailverify/mailverify/catchall"
	"github.com/mailverify/mailverify/mx"
	"github.com/mailverify/mailverify/smtpprobe"
)

// Evidence is scoped to the connection and the moment that gave it.
// Servers count our recipients and change their answers because of us:
// a recipient cap or harvest protection answers a generic "550 Rejected",
// or the mailbox's own words (550 5.1.1, 5.2.1, 552 5.2.2), to everyone
// from some point on (per connection, per transaction, per recipient
// domain, per client, for a while), and a soft limit answers 250 to
// everyone. A
// comparison between two replies proves something only where the server
// could not have switched in between, so every RCPT answer of a (domain,
// host) is kept with where it stood: its connection, transaction and
// flush (the write that carried its command), its place on the
// connection, and when it was asked and answered in the engine's order of
// events.
//
// The rules:
//   - A refusal, specific (5.1.1, 5.2.1, 5.2.2, the rule texts) or
//     generic (smtpprobe.Rejected), is about the mailbox only when an
//     address of the domain was accepted after it in the same transaction
//     and the same flush (answer.before): a server that had switched to
//     refusing everyone would have refused that one too, and one flush
//     reaches the server at once (a protection that lasts a while cannot
//     have ended in between). The place alone proves nothing, not even
//     the first recipient of a fresh connection: a server counts per
//     client too. The flush of a batch ends with a control for each
//     domain (harvest.go: postmaster@ the domain, which counts for
//     specific refusals only, or, where the host refuses postmaster@ and
//     has refused naming no reason, an address it accepted). A refusal
//     that does not count is asked again in a new transaction, followed
//     by such a control (engine.sandwich); then once more on a fresh
//     connection. Without pipelining, a specific refusal counts with an
//     acceptance later in its transaction; on a server judging only the
//     first recipient of a connection, when it is that first.
//   - An acceptance proves the mailbox only when the domain is not
//     catch-all at the host and a refusal of the domain that judges (a
//     specific one wherever it stood, a generic one that counts) came
//     after it in the same transaction (and, where the server pipelines,
//     the same flush: a later flush is a round trip later, and a spell of
//     accepting everyone may end in a round trip): a server that had
//     switched to accepting everyone, for the connection, the transaction
//     or the domain, would have accepted that one too. On a server that
//     pipelines, the batch's flush ends with a random address of each of
//     its domains (canary.go), with an accepted address after it where
//     the host refuses naming no reason; acceptances it did not prove are
//     asked again with a random address after them in one flush (a
//     trailing probe). Without pipelining, the random address is asked
//     right after the batch in the same transaction, with no wait of
//     ours between. A server that judges only the first recipients of a
//     connection (Exchange Online) allows no such comparison: there, a
//     refusal asked after the acceptance was read, on a later connection,
//     counts.
//   - An acceptance proves the mailbox only when the host was judging
//     the domain before it, too (hostRun.fronted): a server that accepts
//     the first recipients of a connection, a transaction, a flush or a
//     domain's run blindly and judges the rest refuses the random
//     address after them. A random address of each domain goes at the
//     front of the batch's flush, and of a trailing probe's (canary.go,
//     front); refused, it shows the host judging there. A trailing probe
//     that asks acceptances again after the host accepted a random
//     address of the domain asks that address again after its front
//     (hostRun.spell): accepted again, as a cache of answers would, it
//     proves nothing. A random address refused as malformed proves
//     nothing either (catchall.RefusesSyntax).

// A connID names one connection of one worker's session.
type connID struct {
	worker uint64 // the engine's number for the worker's conn
	n      int    // smtpprobe.Result.Conn
}

// An answer is one RCPT reply from the host about an address of the
// domain (a job's, or the random probe's).
type answer struct {
	conn  connID
	seq   int    // place among the recipients answered on conn, from 1
	tx    int    // the session's transaction that carried it
	flush int    // the session's write that carried its command
	sent  uint64 // the engine's tick before the commands went out
	got   uint64 // ... and after the replies were read
	probe bool   // the random catch-all address
	rcpt  string // the address asked (its wire form)
	o     smtpprobe.Outcome
	// perConn: the server judges only the first recipients of a
	// connection (see answer.refuted).
	perConn bool
	// firstOnly: the server judges only the first recipient of a
	// connection (the learned count is 1, as Exchange Online's): no
	// control fits after a refusal on its connection (answer.counts).
	firstOnly bool
	counted   bool // a refusal that an acceptance after it made count
	// waits is how many flushes of the session had waited for the
	// server's RCPT pace when it was answered: a server's spell of
	// accepting everyone (a rate-based harvest protection) may end during
	// a wait, so a refusal proves no acceptance across one.
	waits int
	// piped: the server advertised PIPELINING, so the commands of a
	// flush reach it together and a later flush comes a round trip later
	// (see answer.refuted).
	piped bool
	// fronted: set when an acceptance is filed, see hostRun.fronted.
	fronted bool
	// again: a random address asked again (hostRun.spell), no fresh one.
	again bool
	// held: where a random address asked again was first asked
	// (askedagain.go), zero for one drawn afresh; first: where a job's
	// address was first asked at the host.
	held, first askKey
}

// A flush is one call on a session, seen from the engine's clock.
type flush struct {
	c         *conn
	sent, got uint64
}

// answerOf records r, answered in f; ok is false when no RCPT reply came.
func (f flush) answerOf(r *smtpprobe.Result, probe bool) (answer, bool) {
	if r == nil || r.Seq == 0 {
		return answer{}, false
	}
	aboutEgress(r) // a reply about us is never about the mailbox
	f.c.lastConn, f.c.lastTx = connID{f.c.id, r.Conn}, r.Tx
	if probe && catchall.RefusesSyntax(r) {
		return answer{}, false // malformed: no evidence either way
	}
	return answer{rcpt: r.Address, conn: connID{f.c.id, r.Conn}, seq: r.Seq, tx: r.Tx, flush: r.Flush, sent: f.sent, got: f.got,
		probe: probe, o: r.Outcome, perConn: f.c.s.Quirks().RcptsPerConnection > 0, waits: f.c.pc.countAt(r.Flush),
		piped: pipelines(f.c.s), firstOnly: f.c.s.Quirks().RcptsPerConnection == 1}, true
}

// pipelines reports whether s sends its commands pipelined: the server
// advertised PIPELINING and its replies have not fallen out of step (the
// session then sends one command a round trip).
func pipelines(s *smtpprobe.Session) bool {
	_, ok := s.Extension("PIPELINING")
	return ok && !s.Quirks().NoPipelining
}

// counts reports whether a, a refusal from the host, is about the mailbox
// (see the rules above): record marked it, as an acceptance of the domain
// came after it in its transaction and flush; or, on a server that judges
// only the first recipient of a connection, it is a specific refusal of
// it. Where the server judges two or more on a connection, a control
// fits after the refusal, so the ordinary rule applies: a per-client
// harvest protection behind such a cap would otherwise lie to the first
// recipient of every connection and be believed.
func (a answer) counts() bool {
	return a.counted && refusal(a.o) || specific(a.o) && a.firstOnly && a.seq == 1
}

// judges reports whether a, a refusal from the host, shows that the
// server was judging recipients, not accepting everyone, when it gave it:
// a specific one wherever it stood, a generic one once record marked it.
// It is what proves an acceptance before it (hostRun.proven).
func (a answer) judges() bool {
	switch a.o {
	case smtpprobe.MailboxNotFound, smtpprobe.MailboxDisabled:
		return true
	}
	return a.o == smtpprobe.Rejected && a.counted
}

// specific reports whether o is a refusal that names the mailbox: no such
// mailbox, disabled, full.
func specific(o smtpprobe.Outcome) bool {
	return o == smtpprobe.MailboxNotFound || o == smtpprobe.MailboxDisabled || o == smtpprobe.MailboxFull
}

// refusal reports whether o is a refusal whose verdict needs evidence
// that the server was not refusing everyone: a specific one, or one
// naming no reason (smtpprobe.Rejected).
func refusal(o smtpprobe.Outcome) bool { return o == smtpprobe.Rejected || specific(o) }

// refuted reports whether r, a refusal that counts, came after a in a way
// that shows the server was not accepting everyone when it accepted a.
func (a answer) refuted(r answer) bool {
	if a.sameTx(r) {
		return r.seq > a.seq && a.near(r)
	}
	return (a.perConn || r.perConn) && r.sent > a.got
}

// near reports whether a and b, answered in one transaction, are close
// enough for one to prove something of the other. Where the server
// pipelines, a later flush comes at least a round trip later, in which a
// spell of accepting everyone may have ended: only the same flush is.
// Without pipelining every command is a round trip of its own:
// consecutive RCPTs are as far apart as any two flushes, and only a wait
// for the pace (or the Detector) is a gap beyond that.
func (a answer) near(b answer) bool {
	if !a.sameTx(b) {
		return false
	}
	if a.piped || b.piped {
		return a.flush == b.flush
	}
	return a.flush == b.flush || a.waits == b.waits
}

// sameTx reports whether a and b were answered in one transaction of one
// connection: servers count recipients per connection and per
// transaction, and a RSET of ours starts the latter over.
func (a answer) sameTx(b answer) bool { return a.conn == b.conn && a.tx == b.tx }

// sameFlush reports whether a and b were answered in one transaction and
// sent in one write: the server saw them together.
func (a answer) sameFlush(b answer) bool { return a.sameTx(b) && a.flush == b.flush }

// catchAllStatus is what the host has shown of the domain: Yes once it
// accepted the random address (or an earlier answer said so), No once it
// refused it in a way that counts (or the domain is the provider's own
// consumer domain on the provider's host), Unknown before.
func (hr *hostRun) catchAllStatus() catchall.Status {
	switch {
	case hr.known == catchall.Yes || hr.probeYes:
		return catchall.Yes
	case hr.known == catchall.No || hr.probeNo:
		return catchall.No
	}
	return catchall.Unknown
}

// counts reports whether j's refusal is about its mailbox: not where the
// host accepted an address it had refused (hostRun.noteFlip).
func (hr *hostRun) counts(j *job) bool {
	return j.answered && !hr.flipped && (j.counted || j.ans.counts())
}

// proven reports whether j's acceptance is about its mailbox: the domain
// is not catch-all at this host, and a refusal that counts came after the
// acceptance. A provider's own consumer domain on the provider's own host
// needs no more than the acceptance.
func (hr *hostRun) proven(j *job) bool {
	if hr.consumer() {
		return true
	}
	if !j.answered || hr.contradicted || hr.e.byPlace[hr.key] || hr.catchAllStatus() != catchall.No || !j.ans.fronted {
		return false
	}
	for _, r := range hr.answers {
		if r.judges() && j.ans.refuted(r) && r.frontsFor(j.ans) {
			return true
		}
	}
	return false
}

// fronted reports whether the host was judging the domain's recipients
// when it accepted a: an answer of the domain before a in its
// transaction (and, where the server pipelines, its flush) was no
// acceptance, and no random address was accepted between. A server that
// accepts the first recipients of a connection, a transaction, a flush or
// a domain's run blindly and judges the rest refuses the canary after
// them, and only a refusal before them in every one of those scopes shows
// they were judged: the random address at the front of the flush
// (canary.go) gives it, refused; deferred, it shows nothing (a held
// front asked again later does, heldfront.go), and one asked again fronts
// only what was first asked with it (answer.frontsFor). A random address
// accepted (a front, kept in hr.blind, or a probe) shows the host
// accepting blindly at that point. A server that judges only the first
// recipients of a connection is compared across connections
// (answer.refuted).
//
// It is decided when the acceptance is filed, in the same hold of e.mu as
// the front's answer (hr.blind keeps only the latest accepted fronts).
func (hr *hostRun) fronted(a answer) bool {
	if a.perConn {
		// No fronts there (they would take the few recipients it
		// judges): an acceptance counts only as the first of its
		// domain's run in its transaction, where a server judging the
		// first recipient of each run judges it (hostRun.runBefore).
		return !hr.runBefore(a)
	}
	before := func(f answer) bool { return f.sameTx(a) && f.seq < a.seq && (!a.piped || f.flush == a.flush) }
	last, blind := 0, 0 // the latest judged answer before a, and random address accepted
	for _, f := range hr.answers {
		switch {
		case !before(f):
		case judged(f.o) && !deferred(f.o) && f.frontsFor(a):
			if f.got > hr.blindCut { // else a front accepted after it may be forgotten
				last = max(last, f.seq)
			}
		case judged(f.o): // deferred, or a held front that may not front a: neither
		case f.probe:
			blind = max(blind, f.seq)
		}
	}
	for _, b := range hr.blind {
		if before(b) {
			blind = max(blind, b.seq)
		}
	}
	return last > blind
}

// filed returns j's answer from the host as it is to be kept: an
// acceptance with whether it is fronted.
func (hr *hostRun) filed(j *job) answer {
	a := j.ans
	if j.first.tick == 0 {
		j.first = askKey{a.sent, a.conn} // its first ask at this host (reroute clears it)
	}
	a.first = j.first
	a.fronted = a.o == smtpprobe.Accepted && hr.fronted(a) && (a.perConn || hr.pairedFor(a) || hr.pairFronts(a))
	return a
}

// judged reports whether o, a reply to a random address, is kept with the
// domain's answers (hr.answers) rather than with the accepted fronts
// (hr.blind): anything but an acceptance. A deferral (greylisting) is kept
// but fronts nothing (hostRun.fronted): behind it, the server may be
// accepting everyone (TestReviewGreyFindingSparesAccepted, where a
// greylisted front stood before an acceptance of a catch-all domain whose
// harvest protection's lies had made it look judged).
func judged(o smtpprobe.Outcome) bool {
	return o != smtpprobe.Accepted && o != smtpprobe.CannotVerify
}

// consumer reports whether the domain is the provider's own consumer
// domain (gmail.com) and this host is the provider's: such a host rejects
// unknown recipients. A backup MX of someone else's is asked like any.
func (hr *hostRun) consumer() bool {
	p := hr.d.mr.Provider
	return catchall.KnownNotCatchAll(hr.d.name, string(p)) && mx.ProviderOf(hr.host.Name) == p
}

// record keeps an answer of the host about the domain. An acceptance
// makes the generic refusals before it in its transaction and flush count
// (the answers kept, and the jobs waiting with them).
//
// The answers kept are the latest maxAnswers: an older refusal that an
// acceptance would still make count is left as it was (unknown, never a
// wrong verdict), and memory stays bounded on a domain that streams for
// ever.
func (hr *hostRun) record(a answer) {
	hr.noteFlip(a)
	if len(hr.answers) >= maxAnswers {
		hr.answers = append(hr.answers[:0], hr.answers[len(hr.answers)-maxAnswers/2:]...)
	}
	askedBefore := hr.randomAskedBefore(&a)
	switch a.o {
	case smtpprobe.Accepted:
		hr.accepted = true
		hr.probeYes = hr.probeYes || a.probe
		// An address the host accepted before is what a protection that
		// spares its known recipients keeps accepting: accepted again, it
		// makes no specific refusal count (postmaster@ does, see
		// postmasterAnswer). So is a random address asked before (the
		// Detector's, a kept pair's): it may have been accepted where
		// this run did not see it.
		again := hr.acceptedBefore(a) || askedBefore
		for i, r := range hr.answers {
			if refusal(r.o) && r.before(a) && !(again && specific(r.o)) {
				hr.answers[i].counted = true
				hr.probeNo = hr.probeNo || r.probe
			}
		}
		for _, j := range hr.decided {
			if j.answered && refusal(j.out.Outcome) && j.ans.before(a) && !(again && specific(j.out.Outcome)) {
				j.counted = true
			}
		}
	case smtpprobe.Rejected:
		hr.vague = true
		hr.e.refusals[hr.key] |= refusedVaguely
	case smtpprobe.CannotVerify:
		hr.probeYes = hr.probeYes || a.probe
	case smtpprobe.MailboxNotFound, smtpprobe.MailboxDisabled:
		hr.probeNo = hr.probeNo || a.probe
		hr.e.refusals[hr.key] |= refusedNaming
	}
	hr.answers = append(hr.answers, a)
}

// maxAnswers bounds the answers a hostRun keeps.
const maxAnswers = 256

// needsTrailer reports whether an acceptance waits for a refusal after
// it: the domain is not known catch-all, and the random address has not
// been asked since j's acceptance.
func (hr *hostRun) needsTrailer(j *job) bool {
	return j.out.Outcome == smtpprobe.Accepted && !j.trailed && hr.catchAllStatus() != catchall.Yes &&
		!hr.proven(j) && !hr.e.v.SkipCatchAll && !hr.e.v.eg.noCanary && !hr.e.byPlace[hr.key]
}

// waitsForRefusal reports whether an acceptance of the domain waits for a
// refusal after it.
func (hr *hostRun) waitsForRefusal() bool {
	if hr.e.v.eg.noCanary {
		return false
	}
	for _, j := range hr.decided {
		if j.out.Outcome == smtpprobe.Accepted && hr.catchAllStatus() != catchall.Yes && !hr.proven(j) {
			return true
		}
	}
	return false
}

// acceptedBefore reports whether the host accepted addr, an address of
// a job, before, and notes that it has now. The set holds the domain's
// addresses the host accepted in the run, as many as its jobs at most
// (random addresses are new each time and not kept).
func (hr *hostRun) acceptedBefore(a answer) bool {
	if a.probe || a.rcpt == "" {
		return false
	}
	if _, ok := hr.acceptedSet[a.rcpt]; ok {
		return true
	}
	if hr.acceptedSet == nil {
		hr.acceptedSet = make(map[string]struct{})
	}
	hr.acceptedSet[a.rcpt] = struct{}{}
	return false
}
