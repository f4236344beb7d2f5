package egress

import (
	"errors"
	"strconv"
	"strings"

	"github.com/mailverify/mailverify/internal/replytext"
)

// A Stage is the point of an SMTP session a reply answered.
type Stage string

// The stages, in session order.
const (
	StageConnect  Stage = "connect"  // the TCP connection (no reply)
	StageGreeting Stage = "greeting" // the 220/554 banner
	StageHELO     Stage = "helo"     // EHLO/HELO and STARTTLS
	StageMail     Stage = "mail"     // MAIL FROM
	StageRcpt     Stage = "rcpt"     // RCPT TO
)

// StageOf maps the command a smtpprobe.ReplyError names (its Cmd) to the
// stage: "CONNECT" (the banner) is StageGreeting; "EHLO", "HELO" and
// "STARTTLS" are StageHELO; "MAIL" and "RCPT" their stages. Any other
// command is StageRcpt, where a refusal is read most cautiously (a
// generic one there is about the mailbox).
func StageOf(cmd string) Stage {
	switch strings.ToUpper(cmd) {
	case "CONNECT":
		return StageGreeting
	case "EHLO", "HELO", "STARTTLS":
		return StageHELO
	case "MAIL":
		return StageMail
	}
	return StageRcpt
}

// A Verdict says what a reply means for the egress that drew it, not for
// the mailbox. Package smtpprobe's Outcome says what it means for the
// mailbox; the two are read side by side.
type Verdict int

const (
	// None: the reply is about the mailbox or the message, or says nothing
	// about the egress.
	None Verdict = iota
	// Throttled: the provider slows this egress down (421, 4.7.x rate and
	// deferral texts); back off that provider on this egress.
	Throttled
	// SoftLimited: the provider answers 250 to everything from this egress
	// (found by the engine's canaries, never by Classify): its acceptances
	// prove nothing until the back-off ends.
	SoftLimited
	// Blocked: the provider refuses this egress (blocklist listing, banned
	// IP, rDNS/HELO identity refusal, a 554 banner); quarantine it.
	Blocked
	// ReceiverMisconfigured: the receiving server is broken for everyone
	// (such as a Spamhaus "open resolver" answer read as a listing): the
	// address is unknown, and the egress is not to blame.
	ReceiverMisconfigured
)

var verdictNames = [...]string{"none", "throttled", "soft_limited", "blocked", "receiver_misconfigured"}

func (v Verdict) String() string {
	if v >= 0 && int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return "verdict(" + strconv.Itoa(int(v)) + ")"
}

// MarshalText implements encoding.TextMarshaler.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler, for stores that keep
// records as JSON.
func (v *Verdict) UnmarshalText(b []byte) error {
	for i, n := range verdictNames {
		if n == string(b) {
			*v = Verdict(i)
			return nil
		}
	}
	return errors.New("egress: unknown verdict " + strconv.Quote(string(b)))
}

// Against reports whether the verdict counts against the egress.
func (v Verdict) Against() bool { return v == Throttled || v == SoftLimited || v == Blocked }

// A Reply is what Classify reads: the stage, the reply code, the RFC 3463
// enhanced code as text ("5.7.606", or ""), and the reply's text with its
// lines joined by blanks. From a smtpprobe.Reply r:
// Reply{Stage: s, Code: r.Code, Enhanced: r.Enhanced.String(), Text: r.Text()}.
type Reply struct {
	Stage    Stage  `json:"stage"`
	Code     int    `json:"code"`
	Enhanced string `json:"enhanced_code,omitempty"`
	Text     string `json:"text"`
}

// String returns the reply as one line, as servers send it.
func (r Reply) String() string {
	s := strconv.Itoa(r.Code)
	if r.Enhanced != "" {
		s += " " + r.Enhanced
	}
	if r.Text != "" {
		s += " " + r.Text
	}
	return s
}

// A Finding is Classify's answer: the verdict, the provider whose reply
// it recognised (a hint: "" for a generic text), the rule that matched,
// and a plain explanation for people.
type Finding struct {
	Verdict  Verdict `json:"verdict"`
	Provider string  `json:"provider,omitempty"`
	Rule     string  `json:"rule,omitempty"`
	// Meaning says what the reply means; Advice what to do about it.
	Meaning string `json:"meaning,omitempty"`
	Advice  string `json:"advice,omitempty"`
}

// Classify reads one reply for what it says about the egress. The rules
// (rules.go) are tried in order and the first match wins: receiver
// misconfigurations first (so a broken DNSBL setup never marks the
// egress), then mailbox answers that look like blocks (so they never do
// either), then blocks, then throttles. A 2xx or 3xx reply is None, and
// so is a reply no rule knows: an unknown refusal stays a mailbox matter.
func Classify(r Reply) Finding {
	class := r.Code / 100
	if class != 4 && class != 5 {
		return Finding{}
	}
	text := replytext.Prose(r.Text) // the quoted addresses are the user's data, never a rule's words
	for i := range rules {
		ru := &rules[i]
		if !ru.matches(r, class, text) {
			continue
		}
		f := Finding{Verdict: ru.verdict, Provider: ru.provider, Rule: ru.id}
		if f.Provider == "" {
			f.Provider = providerHint(text)
		}
		ex := explanations[ru.explain]
		f.Meaning, f.Advice = ex.meaning, ex.advice
		return f
	}
	return Finding{}
}

// matches reports whether the rule applies to the reply.
func (ru *rule) matches(r Reply, class int, text string) bool {
	if ru.class != 0 && ru.class != class || ru.code != 0 && ru.code != r.Code {
		return false
	}
	if ru.stage != "" && ru.stage != r.Stage {
		return false
	}
	if len(ru.enhanced) > 0 && !hasPrefixAny(r.Enhanced, ru.enhanced) {
		return false
	}
	if len(ru.text) > 0 && !containsAny(text, ru.text) {
		return false
	}
	if ru.when != nil && !ru.when(r, text) {
		return false
	}
	return true
}

// hasPrefixAny matches an enhanced code against patterns: "5.7.606" is
// exact, "5.7.6" followed by a '*' ("5.7.6*") a prefix.
func hasPrefixAny(code string, pats []string) bool {
	for _, p := range pats {
		if q, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(code, q) {
				return true
			}
		} else if code == p {
			return true
		}
	}
	return false
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// providerHint names the provider a reply text comes from, when it says.
func providerHint(text string) string {
	for _, h := range []struct{ marker, provider string }{
		{"gsmtp", "google"},
		{"support.google.com", "google"},
		{"olc.protection.outlook.com", "outlook"},
		{"mail.live.com", "outlook"},
		{"protection.outlook.com", "microsoft365"},
		{"sender.office.com", "microsoft365"},
		{"yahoo", "yahoo"},
		{"proofpoint", "proofpoint"},
		{"mimecast", "mimecast"},
		{"icloud", "icloud"},
		{"apple.com", "icloud"},
		{"zoho", "zoho"},
	} {
		if strings.Contains(text, h.marker) {
			return h.provider
		}
	}
	return ""
}
