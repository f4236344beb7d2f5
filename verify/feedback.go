package verify

import (
	"time"

	"github.com/mailverify/mailverify/feedback"
	"github.com/mailverify/mailverify/smtpprobe"
)

// ReasonDeliveredBefore: the mail server accepts every recipient (or will
// not tell), but mail to this address was delivered within
// FeedbackMaxAge (Result.Feedback says when and how we know).
const ReasonDeliveredBefore Reason = "delivered_before"

// Feedback is the first-party evidence behind a verdict: what happened to
// mail sent to the address (see package feedback).
type Feedback struct {
	Kind   string `json:"kind"` // delivered, hard_bounce
	Status string `json:"status,omitempty"`
	Reply  string `json:"reply,omitempty"`
	At     string `json:"at"` // RFC 3339
	Source string `json:"source,omitempty"`
}

// applyFeedback lets the History speak where probing could not:
//   - a hard bounce within FeedbackMaxAge makes the verdict
//     undeliverable/mailbox_not_found, even on a catch-all domain, unless
//     the server has just shown the mailbox deliverable;
//   - a delivery within FeedbackMaxAge turns an acceptance that proves
//     nothing (catch_all, cannot_verify) into deliverable/delivered_before.
//
// Other verdicts stand; the evidence is attached to them all.
func (v *Verifier) applyFeedback(j *job) {
	if v.History == nil || j.res.Address == "" {
		return
	}
	r := &j.res
	e, ok, err := v.History.Lookup(r.Address)
	if err != nil || !ok || (e.Kind != feedback.HardBounce && e.Kind != feedback.Delivered) {
		return
	}
	if time.Since(e.At) > orDefault(v.FeedbackMaxAge, 90*24*time.Hour) {
		return
	}
	r.Feedback = &Feedback{Kind: e.Kind.String(), Status: e.Status, Reply: e.Reply, At: e.At.UTC().Format(time.RFC3339), Source: e.Source}
	accepted := j.out != nil && j.out.Outcome == smtpprobe.Accepted
	switch {
	case e.Kind == feedback.HardBounce && r.Status != Deliverable:
		r.Status, r.Reason, r.RetryAfter = Undeliverable, ReasonMailboxNotFound, 0
	case e.Kind == feedback.Delivered && accepted && (r.Reason == ReasonCatchAll || r.Reason == ReasonCannotVerify || r.Reason == ReasonParkedDomain):
		r.Status, r.Reason = Deliverable, ReasonDeliveredBefore
	}
}
