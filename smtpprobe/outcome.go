package smtpprobe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
)

// An Outcome is what one recipient probe learned. Only Accepted,
// MailboxNotFound, MailboxDisabled, MailboxFull and DomainRejectsMail say
// anything about the mailbox; the others say the protocol could not tell.
type Outcome int

const (
	// Accepted: RCPT got 250 or 251.
	Accepted Outcome = iota
	// CannotVerify: RCPT got 252; the server will not say.
	CannotVerify
	// MailboxNotFound: the server says the mailbox does not exist (550
	// 5.1.1 and kin).
	MailboxNotFound
	// MailboxDisabled: the mailbox exists but takes no mail (5.2.1).
	MailboxDisabled
	// MailboxFull: over quota (552, 5.2.2, 452 4.2.2).
	MailboxFull
	// DomainRejectsMail: the server takes no mail for the domain (5.1.2,
	// 521, 556, relaying denied).
	DomainRejectsMail
	// Greylisted: a temporary refusal meant to be retried later (450 4.2.0,
	// "greylisted").
	Greylisted
	// RateLimited: the server limits us (421, 4.2.1, 452 4.5.3 too many
	// recipients, 4.7.0 rate texts).
	RateLimited
	// Blocked: the server refuses us, not the mailbox (5.7.x, a 554
	// banner, blocklist or reputation texts). The mailbox was never judged.
	Blocked
	// TemporaryFailure: any other 4xx, or a 5xx about the mail system
	// rather than the mailbox (X.2.3, X.3.x, X.4.x, X.6.x): a later try
	// may succeed, and nothing was said about the mailbox.
	TemporaryFailure
	// ProtocolError: a reply the client could not use (malformed, out of
	// sequence, 5.5.x, an unexpected code).
	ProtocolError
	// TLSError: STARTTLS failed, or was required and not offered.
	TLSError
	// Timeout: the server did not answer in time.
	Timeout
	// ConnectionFailed: no connection, or it broke.
	ConnectionFailed
	// NeedsSMTPUTF8: the address has a non-ASCII local part and the server
	// does not offer SMTPUTF8 (RFC 6531), so it cannot be probed there.
	NeedsSMTPUTF8
	// Rejected: a permanent refusal whose code and text name no reason (550
	// with no enhanced code or X.0.0 and a text no rule knows). It may be
	// about the mailbox or a policy about the client; only differential
	// evidence tells them apart (the same server accepting another
	// recipient), which is the caller's to weigh.
	Rejected
)

var outcomeNames = [...]string{
	"accepted", "cannot_verify", "mailbox_not_found", "mailbox_disabled", "mailbox_full",
	"domain_rejects_mail", "greylisted", "rate_limited", "blocked", "temporary_failure",
	"protocol_error", "tls_error", "timeout", "connection_failed", "needs_smtputf8", "rejected",
}

// String returns the snake_case name used in JSON.
func (o Outcome) String() string {
	if o >= 0 && int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// MarshalText implements encoding.TextMarshaler with the snake_case name.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// Definitive reports whether the outcome is a judgement of the mailbox
// that retrying will not change.
func (o Outcome) Definitive() bool {
	switch o {
	case Accepted, MailboxNotFound, MailboxDisabled, DomainRejectsMail:
		return true
	}
	return false
}

// OutcomeOf classifies an error from [Prober.Open] or a session: a refusal
// of the session itself (banner, EHLO, MAIL FROM) is Blocked when
// permanent, since the server judged the client, not a mailbox; its 4xx is
// classified like a RCPT reply. Network errors are Timeout or
// ConnectionFailed, TLS failures TLSError, malformed replies ProtocolError.
func OutcomeOf(err error) Outcome {
	var re *ReplyError
	var he *HandshakeError
	var recErr tls.RecordHeaderError
	switch {
	case err == nil:
		return Accepted
	case errors.As(err, &re):
		switch {
		case re.Cmd == "STARTTLS":
			return TLSError
		case re.Cmd != "RCPT" && re.Reply.Code/100 == 5:
			return Blocked
		}
		return Classify(re.Reply)
	case errors.Is(err, ErrTLSRequired), errors.As(err, &he), errors.As(err, &recErr):
		return TLSError
	case errors.Is(err, ErrLineTooLong), errors.Is(err, ErrTooManyLines), errors.Is(err, ErrMalformed), errors.Is(err, ErrInjection), errors.Is(err, ErrOutOfStep):
		return ProtocolError
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled), isTimeout(err):
		return Timeout
	case errors.Is(err, ErrNoSMTPUTF8):
		return NeedsSMTPUTF8
	}
	return ConnectionFailed // refused, reset, EOF, unreachable
}
