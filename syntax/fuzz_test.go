package syntax

import (
	"errors"
	"net/mail"
	"strings"
	"testing"
)

var sentinels = []error{
	ErrTooLong, ErrEncoding, ErrControl, ErrBadChar, ErrNoAt, ErrManyAt, ErrEmptyLocal,
	ErrLocalTooLong, ErrDots, ErrQuoted, ErrUTF8Local, ErrCombiningMark, ErrEmptyDomain,
	ErrDomainTooLong, ErrLabelTooLong, ErrHyphen, ErrIDNA, ErrContext, ErrBidi, ErrLiteral,
	ErrSingleLabel, ErrNumericTLD, ErrSpecialUse,
}

// crashers are inputs fuzzing once found problems with; kept as named
// cases too (testdata/fuzz keeps the corpus files).
var crashers = []string{
	"0@[IPv6:0::0.0.0.0]",
	"\"\\",
	"0@xn--",
	"0@0.xn--0",
	"0@\u00dc000000000.0",             // error offset computed in A-label form, past the input
	"0@0\u0678-",                      // error offset inside a label that UTS #46 lengthened
	"\u0958\u0958\u0a18\u0958\u0970@", // error offset in the NFC form, past the input
	"\u037e@0.A",                      // NFC turns GREEK QUESTION MARK into ";"
}

func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		if len(tc.in) < 1024 {
			f.Add(tc.in)
		}
	}
	for _, s := range crashers {
		f.Add(s)
	}
	// A-labels, for the fast path's Punycode codec.
	for _, s := range []string{"anna@xn--bcher-kva.de", "x@XN--MNCHEN-3YA.de", "a@xn--fiqs8s.xn--fiqz9s", "b@xn--80ak6aa92e.com", "c@xn--a-ecp.ru", "d@xn--ls8h.la", "e@xn--4gbrim.xn----ymcbaaajlc6dj7bxne2c.xn--wgbh1c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range []Policy{Default, Strict} {
			checkParseProperties(t, p, s)
		}
		checkAgainstNetMail(t, s)
	})
}

// TestCrashers runs the inputs of past fuzz findings through the same
// property checks.
func TestCrashers(t *testing.T) {
	for _, s := range crashers {
		for _, p := range []Policy{Default, Strict} {
			checkParseProperties(t, p, s)
		}
		checkAgainstNetMail(t, s)
	}
}

func checkParseProperties(t *testing.T, p Policy, s string) {
	a, err := p.Parse(s)
	// The fast path only declines; what it accepts, the general path
	// accepts identically.
	if fa, ok := p.parseFast(s); ok {
		ga, e := p.parse(s)
		if e != nil || ga != fa {
			t.Fatalf("Parse(%q): fast path %#v, general path %#v, %v", s, fa, ga, e)
		}
	}
	if err != nil {
		var se *Error
		if !errors.As(err, &se) || se.Input != s || se.Pos < 0 || se.Pos > len(s) {
			t.Fatalf("Parse(%q): malformed error %#v", s, err)
		}
		known := false
		for _, e := range sentinels {
			known = known || errors.Is(err, e)
		}
		if !known {
			t.Fatalf("Parse(%q): error %v wraps no documented sentinel", s, err)
		}
		return
	}
	if a.IsZero() {
		t.Fatalf("Parse(%q) returned the zero Address and no error", s)
	}
	if hasControl(a.String(), p.Verbatim) || hasControl(a.ASCII(), p.Verbatim) {
		t.Fatalf("Parse(%q) = %q: a control character survived", s, a)
	}
	// Round trip and idempotence: the normalized and A-label forms parse
	// back to the same Address.
	for _, form := range []string{a.String(), a.ASCII()} {
		if p.Verbatim && len(form) > maxAddress {
			continue // Strict measures the input as given; the A-label form may be longer
		}
		b, err := p.Parse(form)
		if err != nil {
			t.Fatalf("Parse(%q) = %q, but parsing that form fails: %v", s, form, err)
		}
		if b != a {
			t.Fatalf("Parse(%q) = %#v, Parse(%q) = %#v", s, a, form, b)
		}
	}
	if !isASCII(a.DomainASCII()) {
		t.Fatalf("Parse(%q): DomainASCII %q is not ASCII", s, a.DomainASCII())
	}
	if a.SMTPUTF8() == isASCII(a.Local()) {
		t.Fatalf("Parse(%q): SMTPUTF8() = %v for local part %q", s, a.SMTPUTF8(), a.Local())
	}
	if !p.Verbatim {
		// What the practical policy accepts, normalized, is an RFC address.
		b, err := Strict.Parse(a.String())
		if err != nil || b.String() != a.String() {
			t.Fatalf("Default accepted %q as %q, which Strict judges %q, %v", s, a, b, err)
		}
	}
}

// checkAgainstNetMail is the differential check against net/mail on ASCII
// input. Intended differences: net/mail also takes display names, angle
// brackets, comments and surrounding white space (RFC 5322 header syntax,
// out of scope here), any dtext in brackets, and applies no size, LDH or
// hyphen rules to domains; it rejects the empty quoted string "", which
// RFC 5321 allows. So the check runs one way: every other ASCII address that
// Strict accepts, address literals aside, net/mail accepts as the same
// local part and domain.
func checkAgainstNetMail(t *testing.T, s string) {
	if !isASCII(s) {
		return
	}
	a, err := Strict.Parse(s)
	if err != nil || a.IsLiteral() || a.Unquoted() == "" {
		return
	}
	m, err := mail.ParseAddress(s)
	if err != nil {
		t.Fatalf("Strict accepts %q, net/mail rejects it: %v", s, err)
	}
	at := strings.LastIndexByte(m.Address, '@')
	if m.Name != "" || m.Address[:at] != a.Unquoted() || !strings.EqualFold(m.Address[at+1:], a.DomainASCII()) {
		t.Fatalf("Strict.Parse(%q) = %q (unquoted %q), net/mail = %q", s, a, a.Unquoted(), m.Address)
	}
}
