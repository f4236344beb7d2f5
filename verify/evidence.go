package verify

import (
	"github.com/mailverify/mailverify/catchall"
	"github.com/mailverify/mailverify/mx"
	"github.com/mailverify/mailverify/smtpprobe"
)

// Evidence is scoped to the connection and the moment that gave it.
// Servers count our recipients and change their answers because of us:
// a per-connection recipient cap or harvest protection answers a generic
// "550 Rejected" to everyone from some point on, and a soft limit answers
// 250 to everyone. A comparison between two replies proves something only
// where the server could not have switched in between, so every RCPT
// answer of a (domain, host) is kept with where it stood: its connection,
// its place on it, and when it was asked and answered in the engine's
// order of events.
//
// The rules, for the switches that go one way (from telling recipients
// apart to refusing or accepting everyone):
//   - A specific "no such mailbox" (5.1.1, 5.2.1, the rule texts) is
//     about that mailbox wherever it stood.
//   - A generic refusal (smtpprobe.Rejected) is about the mailbox only
//     when the same transaction, on the same connection, accepted a
//     recipient of the domain after it: a server that had switched to
//     refusing everyone would have refused that one too. The place alone
//     proves nothing, not even the first recipient of a fresh
//     connection: a server counts per client too (harvest protection).
//   - A generic refusal that does not count is asked again in a new
//     transaction, followed by an address of the domain the host accepted
//     before (engine.sandwich); then once more on a fresh connection.
//   - An acceptance proves the mailbox only when the domain is not
//     catch-all at the host and a refusal that counts (above) came after
//     it, on the same connection or asked after the acceptance was read:
//     a server that had switched to accepting everyone would have
//     accepted that one too. Servers count per client, not per domain,
//     so the refusal may be of any domain the host serves (hostLog). The
//     random address's refusal after it (a trailing probe) is the usual
//     one where the batch ended with acceptances.

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
	sent  uint64 // the engine's tick before the commands went out
	got   uint64 // ... and after the replies were read
	probe bool   // the random catch-all address
	o     smtpprobe.Outcome
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
	return answer{conn: connID{f.c.id, r.Conn}, seq: r.Seq, tx: r.Tx, sent: f.sent, got: f.got, probe: probe, o: r.Outcome}, true
}

// A hostLog is what one mail server (a politeness key) showed across the
// domains it serves: where its last refusals that count stood, the latest
// on each connection and the latest asked.
type hostLog struct {
	lastOnConn map[connID]int
	lastSent   uint64
}

// note records a refusal that counts.
func (l *hostLog) note(r answer) {
	if l.lastOnConn == nil {
		l.lastOnConn = map[connID]int{}
	}
	if len(l.lastOnConn) >= maxAnswers {
		// Bounded: a connection forgotten here only leaves its
		// acceptances to the refusals asked after them.
		for k := range l.lastOnConn {
			if delete(l.lastOnConn, k); len(l.lastOnConn) < maxAnswers/2 {
				break
			}
		}
	}
	l.lastOnConn[r.conn] = max(l.lastOnConn[r.conn], r.seq)
	l.lastSent = max(l.lastSent, r.sent)
}

// refusedAfter reports whether a refusal that counts came after a.
func (l *hostLog) refusedAfter(a answer) bool {
	return l.lastOnConn[a.conn] > a.seq || l.lastSent > a.got
}

// log returns the hostLog of hr's mail server. e.mu is held.
func (hr *hostRun) log() *hostLog {
	l := hr.e.hostLogs[hr.key]
	if l == nil {
		l = &hostLog{}
		hr.e.hostLogs[hr.key] = l
	}
	return l
}

// refusalCounts reports whether r, a refusal from the host, is about the
// mailbox (see the rules above).
func (hr *hostRun) refusalCounts(r answer) bool {
	switch r.o {
	case smtpprobe.MailboxNotFound, smtpprobe.MailboxDisabled:
		return true
	case smtpprobe.Rejected:
		for _, a := range hr.answers {
			if a.o == smtpprobe.Accepted && a.sameTx(r) && a.seq > r.seq {
				return true
			}
		}
	}
	return false
}

// sameTx reports whether a and b were answered in one transaction of one
// connection: servers count recipients per connection and per
// transaction, and a RSET of ours starts the latter over.
func (a answer) sameTx(b answer) bool { return a.conn == b.conn && a.tx == b.tx }

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

// counts reports whether j's refusal is about its mailbox.
func (hr *hostRun) counts(j *job) bool {
	return j.answered && (j.counted || hr.refusalCounts(j.ans))
}

// proven reports whether j's acceptance is about its mailbox: the domain
// is not catch-all at this host, and a refusal that counts came after the
// acceptance. A provider's own consumer domain on the provider's own host
// needs no more than the acceptance.
func (hr *hostRun) proven(j *job) bool {
	if hr.consumer() {
		return true
	}
	return j.answered && hr.catchAllStatus() == catchall.No && hr.log().refusedAfter(j.ans)
}

// consumer reports whether the domain is the provider's own consumer
// domain (gmail.com) and this host is the provider's: such a host rejects
// unknown recipients. A backup MX of someone else's is asked like any.
func (hr *hostRun) consumer() bool {
	p := hr.d.mr.Provider
	return catchall.KnownNotCatchAll(hr.d.name, string(p)) && mx.ProviderOf(hr.host.Name) == p
}

// record keeps an answer of the host about the domain, and tells the
// hostLog the refusals that count: this one, or, for an acceptance, the
// refusals naming no reason before it on the same connection.
//
// The answers kept are the latest maxAnswers: an older refusal that an
// acceptance would still make count is left as it was (unknown, never a
// wrong verdict), and memory stays bounded on a domain that streams for
// ever.
func (hr *hostRun) record(a answer) {
	if len(hr.answers) >= maxAnswers {
		hr.answers = append(hr.answers[:0], hr.answers[len(hr.answers)-maxAnswers/2:]...)
	}
	hr.answers = append(hr.answers, a)
	switch {
	case a.o == smtpprobe.Accepted:
		hr.accepted = true
		hr.probeYes = hr.probeYes || a.probe
		for _, r := range hr.answers {
			if r.o == smtpprobe.Rejected && r.sameTx(a) && r.seq < a.seq {
				hr.log().note(r)
				hr.probeNo = hr.probeNo || r.probe
			}
		}
		for _, j := range hr.decided {
			if j.answered && j.out.Outcome == smtpprobe.Rejected && j.ans.sameTx(a) && j.ans.seq < a.seq {
				j.counted = true
			}
		}
	case a.o == smtpprobe.CannotVerify:
		hr.probeYes = hr.probeYes || a.probe
	case hr.refusalCounts(a):
		hr.log().note(a)
		hr.probeNo = hr.probeNo || a.probe
	}
}

// maxAnswers bounds the answers a hostRun keeps.
const maxAnswers = 256

// needsTrailer reports whether an acceptance waits for a refusal after
// it: the domain is not known catch-all, and the random address has not
// been asked since j's acceptance.
func (hr *hostRun) needsTrailer(j *job) bool {
	return j.out.Outcome == smtpprobe.Accepted && !j.trailed && hr.catchAllStatus() != catchall.Yes &&
		!hr.proven(j) && !hr.e.v.SkipCatchAll
}

// onlyTrailer reports whether the question is asked already and
// acceptances wait only for a refusal after them, of any domain the
// server hosts.
func (hr *hostRun) onlyTrailer() bool {
	return hr.asked && !hr.deferred && !hr.asking && hr.catchAllStatus() == catchall.No
}
