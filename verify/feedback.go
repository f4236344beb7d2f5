package verify

import (
	"strings"
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
//   - a hard bounce within FeedbackMaxAge that names the mailbox (its
//     reply classifies as a RCPT reply saying the mailbox does not
//     exist, is disabled, or the domain takes no mail) makes the verdict
//     undeliverable with that reason where the server said nothing
//     definite about the mailbox now (catch_all, cannot_verify, parked,
//     any unknown). Fresh evidence outranks it: deliverable,
//     undeliverable, mailbox_full. A bounce for policy, content, spam or
//     expiry (5.7.1, 5.4.7, ...) says nothing about the mailbox and
//     changes nothing;
//   - a delivery within FeedbackMaxAge turns an acceptance that proves
//     nothing (catch_all, cannot_verify, parked_domain) into
//     deliverable/delivered_before.
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
	if time.Since(e.At) > orDefault(v.FeedbackMaxAge, 90*24*time.Hour) || e.InFuture(time.Now()) {
		return // too old, or dated in the future: no evidence of when
	}
	r.Feedback = &Feedback{Kind: e.Kind.String(), Status: e.Status, Reply: e.Reply, At: e.At.UTC().Format(time.RFC3339), Source: e.Source}
	switch {
	case e.Kind == feedback.HardBounce && (r.Status == Unknown || provesNothing(r.Reason)):
		if ov, ok := outcomeVerdicts[bounceOutcome(e)]; ok && ov.status == Undeliverable {
			r.Status, r.Reason, r.RetryAfter = Undeliverable, ov.reason, 0
		}
	case e.Kind == feedback.Delivered && provesNothing(r.Reason):
		r.Status, r.Reason = Deliverable, ReasonDeliveredBefore
	}
}

// bounceOutcome classifies a bounce as the RCPT reply it reports: the
// Diagnostic-Code ("smtp; 550 5.1.1 ...") or an ESP's reply text, with
// the bounce's status where the reply has no enhanced code, or the
// status alone when there is no reply.
func bounceOutcome(e feedback.Event) smtpprobe.Outcome {
	text := strings.TrimSpace(e.Reply)
	if typ, rest, ok := strings.Cut(text, ";"); ok && strings.EqualFold(strings.TrimSpace(typ), "smtp") {
		text = rest
	}
	r, err := smtpprobe.ParseReply(text)
	if err != nil {
		r = smtpprobe.Reply{Code: 550, Lines: []string{text}}
	}
	if st, _, ok := smtpprobe.ParseEnhancedCode(e.Status); ok && r.Enhanced.IsZero() && st.Class == r.Code/100 {
		r.Enhanced = st
	}
	return smtpprobe.Classify(r)
}
