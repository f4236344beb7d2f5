package catchall

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// Status is what the probe learned.
type Status int

const (
	Unknown Status = iota // the probe could not tell
	No                    // the server rejected the random address
	Yes                   // the server accepted the random address
)

// String returns "yes", "no" or "unknown".
func (s Status) String() string {
	switch s {
	case No:
		return "no"
	case Yes:
		return "yes"
	}
	return "unknown"
}

// MarshalText implements encoding.TextMarshaler: "yes", "no" or "unknown".
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Status) UnmarshalText(b []byte) error {
	switch string(b) {
	case "yes":
		*s = Yes
	case "no":
		*s = No
	case "unknown":
		*s = Unknown
	default:
		return errors.New("catchall: unknown status " + strconv.Quote(string(b)))
	}
	return nil
}

// consumer lists, per provider (an mx.Provider value), the provider's own
// consumer domains, whose servers reject unknown recipients at RCPT, so
// probing them costs a round trip for nothing. Customer domains on the
// same providers (Google Workspace, Microsoft 365, Zoho) can route unknown
// recipients to a catch-all mailbox and are always probed.
var consumer = map[string]struct {
	brands []string // first label of the domain, under any public suffix
	exact  []string
}{
	"google":  {exact: []string{"gmail.com", "googlemail.com"}},
	"outlook": {brands: []string{"outlook", "hotmail", "live", "msn", "windowslive", "passport"}},
	"icloud":  {exact: []string{"icloud.com", "me.com", "mac.com"}},
	"proton":  {exact: []string{"proton.me", "protonmail.com", "protonmail.ch", "pm.me"}},
	"gmx":     {brands: []string{"gmx"}, exact: []string{"web.de"}},
	"yandex":  {brands: []string{"yandex"}, exact: []string{"ya.ru"}},
	"mailru":  {exact: []string{"mail.ru", "inbox.ru", "list.ru", "bk.ru", "internet.ru"}},
	"zoho":    {exact: []string{"zoho.com", "zohomail.com"}},
}

// KnownNotCatchAll reports whether domain (A-label, lower case) is one of
// provider's own consumer domains, known to reject unknown recipients.
// provider is the mx.Provider of the domain's most-preferred MX hosts.
func KnownNotCatchAll(domain, provider string) bool {
	c, ok := consumer[provider]
	if !ok {
		return false
	}
	if slices.Contains(c.exact, domain) {
		return true
	}
	label, rest, ok := strings.Cut(domain, ".")
	if !ok || !slices.Contains(c.brands, label) {
		return false
	}
	suffix, icann := publicsuffix.PublicSuffix(domain)
	return icann && suffix == rest
}
