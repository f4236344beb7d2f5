package verify

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/mailverify/mailverify/catchall"
	"github.com/mailverify/mailverify/risk"
)

// Status is the verdict on an address.
type Status int

const (
	// Unknown: the protocol could not tell (greylisting, blocks, timeouts,
	// servers that accept everything or will not say).
	Unknown Status = iota
	// Deliverable: the mail server accepted the recipient, and the domain
	// is not catch-all.
	Deliverable
	// Undeliverable: the address cannot receive mail.
	Undeliverable
	// Risky: the address may receive mail but should not be relied on.
	Risky
)

var statusNames = [...]string{"unknown", "deliverable", "undeliverable", "risky"}

// String returns the name used in JSON: "deliverable", "undeliverable",
// "risky" or "unknown".
func (s Status) String() string {
	if s >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// MarshalText implements encoding.TextMarshaler.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler, so that programs
// wrapping the CLI can decode its JSON.
func (s *Status) UnmarshalText(b []byte) error {
	for i, n := range statusNames {
		if n == string(b) {
			*s = Status(i)
			return nil
		}
	}
	return fmt.Errorf("verify: unknown status %q", b)
}

// Reason is the one precise reason behind a Status. The values are part of
// the JSON contract; the package documentation says when each is given.
type Reason string

// Reasons by status.
const (
	// Deliverable.
	ReasonAccepted Reason = "accepted"

	// Undeliverable.
	ReasonInvalidSyntax     Reason = "invalid_syntax"
	ReasonDomainNotFound    Reason = "domain_not_found"
	ReasonNoMailServer      Reason = "no_mail_server"
	ReasonNullMX            Reason = "null_mx"
	ReasonUnroutableMX      Reason = "unroutable_mx"
	ReasonMailboxNotFound   Reason = "mailbox_not_found"
	ReasonMailboxDisabled   Reason = "mailbox_disabled"
	ReasonDomainRejectsMail Reason = "domain_rejects_mail"

	// Risky.
	ReasonCatchAll     Reason = "catch_all"
	ReasonMailboxFull  Reason = "mailbox_full"
	ReasonDisposable   Reason = "disposable"
	ReasonPossibleTypo Reason = "possible_typo"

	// Unknown.
	ReasonCannotVerify        Reason = "cannot_verify"
	ReasonGreylisted          Reason = "greylisted"
	ReasonRateLimited         Reason = "rate_limited"
	ReasonSoftLimited         Reason = "soft_limited"
	ReasonTemporaryFailure    Reason = "temporary_failure"
	ReasonTimeout             Reason = "timeout"
	ReasonConnectionFailed    Reason = "connection_failed"
	ReasonBlocked             Reason = "blocked"
	ReasonDNSError            Reason = "dns_error"
	ReasonTLSError            Reason = "tls_error"
	ReasonProtocolError       Reason = "protocol_error"
	ReasonSMTPNotChecked      Reason = "smtp_not_checked"
	ReasonSMTPUTF8Unsupported Reason = "smtputf8_unsupported"
)

// SMTPReply is the reply that decided a verdict.
type SMTPReply struct {
	Code         int    `json:"code"`
	EnhancedCode string `json:"enhanced_code,omitempty"`
	Message      string `json:"message"`
	Host         string `json:"host"` // the MX host that sent it
}

// Result is the verdict on one address with its evidence. Its JSON form
// (snake_case) is a stable contract, pinned by testdata/result.golden.
type Result struct {
	Input  string `json:"input"`
	Status Status `json:"status"`
	Reason Reason `json:"reason"`

	// The normalized address and its parts; empty when the syntax is invalid.
	Address     string `json:"address,omitempty"`
	Local       string `json:"local_part,omitempty"`
	Domain      string `json:"domain,omitempty"`       // U-label form
	DomainASCII string `json:"domain_ascii,omitempty"` // A-label form

	Disposable   bool            `json:"disposable"`
	RoleAccount  bool            `json:"role_account"`
	FreeProvider bool            `json:"free_provider"`
	CatchAll     catchall.Status `json:"catch_all"`
	SMTPUTF8     bool            `json:"smtputf8"`
	Subaddress   bool            `json:"subaddress"`
	Suggestion   string          `json:"suggestion,omitempty"`
	Provider     string          `json:"provider,omitempty"`
	// Backend, when Provider is a security gateway (proofpoint, mimecast,
	// barracuda, ...), is the mailbox provider behind it, from the
	// domain's SPF record (with RiskDNS).
	Backend string `json:"backend,omitempty"`
	// Risk holds the risk signals seen, each with its evidence; nil when
	// none was (see package risk).
	Risk *risk.Risk `json:"risk,omitempty"`
	// Feedback is the bounce or delivery on record that decided or backs
	// the verdict (Verifier.History).
	Feedback *Feedback `json:"feedback,omitempty"`
	// ProviderProbe is the caller's provider probe's answer, when it
	// decided the verdict (Verifier.ProviderProbe).
	ProviderProbe *ProbeEvidence `json:"provider_probe,omitempty"`

	// MXHosts are the mail hosts tried, in order.
	MXHosts []string   `json:"mx_hosts,omitempty"`
	SMTP    *SMTPReply `json:"smtp,omitempty"`
	// RetryAfter, for temporary outcomes, is when trying again makes sense.
	RetryAfter Seconds `json:"retry_after,omitempty"`
	Duration   Millis  `json:"duration_ms"`
	// Transcript is the SMTP conversation, when Verifier.Transcript is set.
	Transcript []string `json:"transcript,omitempty"`

	// Error is Err's message, for people reading the JSON.
	Error string `json:"error,omitempty"`
	// Err is the failure behind an Unknown or an invalid_syntax verdict (a
	// *syntax.Error, *net.DNSError, *smtpprobe.ReplyError, ...), for
	// errors.As; it is not part of the JSON.
	Err error `json:"-"`
}

// Seconds is a duration that encodes in JSON as whole seconds.
type Seconds time.Duration

// MarshalJSON writes the number of seconds, rounded up.
func (s Seconds) MarshalJSON() ([]byte, error) {
	d := time.Duration(s)
	return fmt.Appendf(nil, "%d", int64((d+time.Second-1)/time.Second)), nil
}

// UnmarshalJSON reads a number of seconds.
func (s *Seconds) UnmarshalJSON(b []byte) error {
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*s = Seconds(time.Duration(n) * time.Second)
	return nil
}

// Millis is a duration that encodes in JSON as milliseconds.
type Millis time.Duration

// MarshalJSON writes the number of milliseconds.
func (m Millis) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, "%d", time.Duration(m).Milliseconds()), nil
}

// UnmarshalJSON reads a number of milliseconds.
func (m *Millis) UnmarshalJSON(b []byte) error {
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*m = Millis(time.Duration(n) * time.Millisecond)
	return nil
}
