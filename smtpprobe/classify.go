package smtpprobe

import (
	"strings"

	"github.com/mailverify/mailverify/internal/replytext"
)

// Classify turns a reply to RCPT into an Outcome: by the reply code first,
// the RFC 3463 enhanced code second, the text last (see rules.go).
//
// A specific enhanced code (X.1.1, X.2.2, X.5.3, ...) decides; text only
// refines a reply whose codes are generic (no enhanced code, X.0.0, 4.7.x,
// Microsoft's 5.4.1), except that policy-block text beats everything.
// Three guarantees hold whatever the text says: a 4xx reply never
// classifies as a permanent verdict on the mailbox; a 5.7.x reply or a
// blocklist text never classifies as MailboxNotFound; and a 550/551/553
// whose codes and text name no reason is Rejected, not MailboxNotFound.
func Classify(r Reply) Outcome {
	class := r.Code / 100
	switch class {
	case 2:
		if r.Code == 252 {
			return CannotVerify
		}
		return Accepted
	case 4, 5:
	default:
		return ProtocolError
	}
	out := byCode(r.Code)
	specific := false
	e := r.Enhanced
	if out == DomainRejectsMail && !e.IsZero() && e.Class == class && !takesNoMail(e) {
		// A 521 or 556 whose enhanced code says something else: AOL's
		// "521 5.2.1 (CON:B1)" refuses our client, not the domain. It is
		// a refusal of no stated reason, for the text to refine.
		out = Rejected
	} else if !e.IsZero() && e.Class == class && out != DomainRejectsMail {
		if o, ok := byEnhanced(e); ok {
			out, specific = o, true
		}
	}
	if t, ok := byText(replytext.Prose(r.Text()), class); ok && (!specific || t == Blocked) {
		out = refine(out, t, class)
	}
	if r.Code == 421 && out != Blocked {
		return RateLimited // the server is closing the channel, whatever else it says
	}
	return out
}

// takesNoMail reports whether an enhanced code agrees with a 521 or 556
// (RFC 7504: the host or domain accepts no mail): X.0.0, X.1.2 (bad
// destination system), X.1.10 (null MX, RFC 7505; Microsoft also sends
// 556 5.1.10 for unknown recipients) and X.3.2 (system not accepting
// network messages).
func takesNoMail(e EnhancedCode) bool {
	switch {
	case e.Subject == 0 && e.Detail == 0,
		e.Subject == 1 && (e.Detail == 2 || e.Detail == 10),
		e.Subject == 3 && e.Detail == 2:
		return true
	}
	return false
}

// byCode is the meaning of the basic reply code (RFC 5321 section 4.2.2).
func byCode(code int) Outcome {
	switch code {
	case 421:
		return RateLimited // service closing the channel
	case 450, 451, 452, 455:
		return TemporaryFailure
	case 550, 551, 553:
		// "Mailbox unavailable", "user not local", "mailbox name not
		// allowed": servers send these for policy refusals too.
		return Rejected
	case 552:
		return MailboxFull // "exceeded storage allocation"
	case 521, 556:
		return DomainRejectsMail // RFC 7504: does not accept mail
	case 530, 535, 538:
		return Blocked // authentication or encryption demanded of us
	}
	if code/100 == 4 {
		return TemporaryFailure
	}
	return ProtocolError // 500-504, 554 without more to go on, others
}

// byEnhanced is the meaning of a specific RFC 3463 enhanced code; it
// reports false for the generic ones, whose reply the text decides.
func byEnhanced(e EnhancedCode) (Outcome, bool) {
	perm := e.Class == 5
	switch e.Subject {
	case 1: // addressing status
		switch e.Detail {
		case 1, 3, 6, 10: // bad mailbox, bad syntax, moved; 5.1.10 is Microsoft's RecipientNotFound
			if perm {
				return MailboxNotFound, true
			}
		case 2:
			if perm {
				return DomainRejectsMail, true
			}
		case 7, 8: // bad sender mailbox or sender domain: our MAIL FROM
			return Blocked, true
		}
	case 2: // mailbox status
		switch e.Detail {
		case 0:
			if !perm {
				return Greylisted, true // 4.2.0: postgrey and kin
			}
		case 1:
			if perm {
				return MailboxDisabled, true
			}
			return RateLimited, true // Gmail 4.2.1: receiving mail too fast
		case 2:
			return MailboxFull, true
		case 3: // message length: about the message, not the mailbox
			return TemporaryFailure, true
		case 4:
			if perm {
				return MailboxNotFound, true // OpenSMTPD answers unknown users with 524 5.2.4
			}
		}
	case 3, 6: // mail system and message content status
		return TemporaryFailure, true
	case 4: // network and routing status
		if perm && e.Detail == 1 {
			return 0, false // Microsoft's 5.4.1 edge blocking: its text decides
		}
		return TemporaryFailure, true
	case 5: // protocol status
		if e.Detail == 3 {
			return RateLimited, true // too many recipients
		}
		if perm && e.Detail != 0 {
			return ProtocolError, true
		}
	case 7: // security or policy status
		if perm {
			return Blocked, true
		}
		// 4.7.x: greylisting, rate or block: the text decides.
	}
	return 0, false
}

// refine applies a text rule's outcome t to the outcome from the codes.
func refine(cur, t Outcome, class int) Outcome {
	switch {
	case t == Blocked:
		return Blocked // a policy block beats everything the codes said
	case cur == Blocked:
		return Blocked // and text never lifts one
	case class == 4 && (t == MailboxNotFound || t == MailboxDisabled || t == DomainRejectsMail):
		return cur // a 4xx is never a permanent verdict
	case class == 5 && (t == Greylisted || t == TemporaryFailure):
		// A permanent code with "try again later" text: no verdict on the
		// mailbox or the domain either way.
		if cur == Rejected || cur == DomainRejectsMail || cur == ProtocolError {
			return TemporaryFailure
		}
		return cur
	}
	return t
}

// byText finds the first text rule that matches lower-case text.
func byText(text string, class int) (Outcome, bool) {
	for _, r := range textRules {
		if r.class != 0 && r.class != class {
			continue
		}
		if strings.Contains(text, r.substr) {
			return r.outcome, true
		}
	}
	return 0, false
}

// IsRecipientLimit reports whether r refuses a recipient because of how
// many the transaction or connection already holds (RFC 5321 section
// 4.5.3.1.10: "452 too many recipients", 5.5.3, the 552 some servers
// send, and Google's one domain per transaction), not because of the
// recipient. Postfix's per-client rate
// (smtpd_client_recipient_rate_limit: "450 4.7.1 Error: too many
// recipients from [192.0.2.1]") is not one: a new transaction or
// connection from the same client only draws it again.
func IsRecipientLimit(r Reply) bool {
	if r.Enhanced.Subject == 5 && r.Enhanced.Detail == 3 {
		return true
	}
	t := replytext.Prose(r.Text())
	if strings.Contains(t, "too many recipients from") {
		return false
	}
	return strings.Contains(t, "too many recipients") || strings.Contains(t, "recipient limit") ||
		strings.Contains(t, "too many rcpt") || IsDomainLimit(r)
}

// IsDomainLimit reports whether r refuses a recipient because its domain
// is not the transaction's: Google takes one recipient domain per
// transaction ("451 4.3.0 Multiple destination domains per transaction
// is unsupported").
func IsDomainLimit(r Reply) bool {
	return strings.Contains(replytext.Prose(r.Text()), "destination domains per transaction")
}
