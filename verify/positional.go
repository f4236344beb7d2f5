package verify

import (
	"errors"

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
//   - the first flush that carries a domain's addresses at a host puts two
//     random addresses at its front, not one (the front pair): a server
//     that lets through the recipients after one it judged accepts the
//     second;
//   - a fresh random address accepted between two refusals that judge, in
//     one flush (answer.near), is a switch the spell model does not
//     allow. From then on no acceptance at that server is proven
//     (hostRun.proven): they end unknown/cannot_verify, with errByPlace.
//
// The pair costs one RCPT per domain and host. A server that behaves
// otherwise on a domain's first flush than on later ones, by place, is
// not caught by it; a test that finds one is welcome.

// errByPlace is the error of an acceptance at a server seen to answer by
// place.
var errByPlace = errors.New("the server accepted a random address between two it refused in one flush: it answers by the recipient's place, not its mailbox, so no acceptance there is proven")

// pairDue reports whether the domain's next flush at the host carries the
// front pair: until one has been answered. e.mu is held.
func (hr *hostRun) pairDue() bool { return !hr.paired }

// frontCount is the number of random addresses the domain's next flush at
// the host carries at its front. e.mu is held.
func (hr *hostRun) frontCount() int { return 1 + boolInt(hr.pairDue()) }

// notePlace looks at the random addresses of the domain the host accepted
// since it last looked: one with a refusal that judges before it and
// another after it, both near it (in its flush, or with no wait between
// without pipelining), marks the server as answering by place. A random
// address asked again (hostRun.spell) does not: a cache of answers
// accepts it again. e.mu is held.
func (hr *hostRun) notePlace() {
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

// byPlace gives j, accepted, the reason its acceptance is not proven where
// the server answers by place. e.mu is held.
func (hr *hostRun) byPlace(j *job) {
	if j.out.Outcome == smtpprobe.Accepted && hr.e.byPlace[hr.key] {
		o := *j.out
		o.Err = errByPlace
		j.out = &o
	}
}
