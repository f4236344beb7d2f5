package syntax

import (
	"strings"
	"unicode/utf8"
)

// A Policy decides which strings are acceptable addresses and how they are
// normalized. The zero Policy is the most conservative practical policy:
// Default without non-ASCII local parts. A Policy is a plain value, safe to
// copy and to use from many goroutines.
type Policy struct {
	// Verbatim judges the input byte for byte as an RFC 5321 Mailbox with
	// the RFC 6531 extensions (SYNTAX.md section 1): no character screen,
	// no NFC, no UTS #46 mapping of the domain, lengths counted as given,
	// and any non-ASCII code point allowed in a local part, as the RFC 6531
	// ABNF allows. When false (the practical mode, SYNTAX.md section 2) the
	// input is screened for invisible and control characters, the local
	// part is normalized to NFC and must be a PRECIS identifier, and the
	// domain is mapped with UTS #46 before IDNA2008 judges it.
	Verbatim bool

	// AllowQuoted accepts quoted-string local parts ("john doe"@example.com).
	AllowQuoted bool
	// AllowLiteral accepts address literals ([192.0.2.1], [IPv6:2001:db8::1]).
	AllowLiteral bool
	// AllowSingleLabel accepts dotless domains (user@localhost-like names).
	AllowSingleLabel bool
	// AllowSpecialUse accepts the special-use top-level domains .test,
	// .example, .invalid, .localhost, .local, .onion, .alt, .internal and
	// .arpa. Tests that run against .test domains need it.
	AllowSpecialUse bool
	// AllowNumericTLD accepts an all-digit top-level label, which no
	// registry delegates (RFC 3696 section 2) and which makes 192.0.2.1 look
	// like a domain.
	AllowNumericTLD bool
	// AllowUTF8Local accepts non-ASCII local parts, whose delivery needs
	// SMTPUTF8 (RFC 6531). Internationalized domains are always accepted:
	// their A-label form is ASCII.
	AllowUTF8Local bool
}

// Default is the practical sign-up policy of SYNTAX.md section 2: what a
// service that sends real mail should accept on a form. It rejects quoted
// local parts, address literals, dotless domains, numeric and special-use
// TLDs; it accepts internationalized domains and UTF-8 local parts.
var Default = Policy{AllowUTF8Local: true}

// Strict accepts exactly the RFC 5321 Mailbox grammar with the RFC 6531
// extensions, its size limits and IDNA2008 label validity (SYNTAX.md
// section 1). Use it to judge whether a string is an address at all, not
// whether to accept it from a user.
var Strict = Policy{
	Verbatim:         true,
	AllowQuoted:      true,
	AllowLiteral:     true,
	AllowSingleLabel: true,
	AllowSpecialUse:  true,
	AllowNumericTLD:  true,
	AllowUTF8Local:   true,
}

// Parse parses s under the Default policy.
func Parse(s string) (Address, error) { return Default.Parse(s) }

// Size limits of RFC 5321 section 4.5.3.1.
const (
	maxLocal   = 64
	maxLabel   = 63
	maxDomain  = 253 // 255 in wire format less the length octets (SYNTAX.md S6)
	maxAddress = 254
	// maxInput bounds the work done on hostile input. Normalization may
	// shrink a practical address (NFD local parts, fullwidth domains), but
	// never by more than this factor.
	maxInput = 4 * 1024
)

// Parse parses and validates s as one email address under p, and returns
// it normalized. It never trims or guesses: surrounding space, a display
// name or angle brackets make s invalid. The error is always an *Error.
func (p Policy) Parse(s string) (Address, error) {
	if a, ok := p.parseFast(s); ok {
		return a, nil
	}
	a, e := p.parse(s)
	if e != nil {
		e.Input = s
		return Address{}, e
	}
	return a, nil
}

// fault builds an *Error; Parse fills in Input.
func fault(pos int, err error, detail string) *Error {
	return &Error{Pos: pos, Err: err, Detail: detail}
}

func (p Policy) parse(s string) (Address, *Error) {
	if len(s) > maxInput || p.Verbatim && len(s) > maxAddress {
		return Address{}, fault(0, ErrTooLong, "")
	}
	asciiUpTo, e := p.screen(s)
	if e != nil {
		return Address{}, e
	}
	ascii := asciiUpTo == len(s)

	// Split at the "@" that ends the local part.
	var at int
	if p.AllowQuoted && s != "" && s[0] == '"' {
		end, e := quotedEnd(s)
		if e != nil {
			return Address{}, e
		}
		if end == len(s) {
			return Address{}, fault(end, ErrNoAt, "")
		}
		if s[end] != '@' {
			return Address{}, fault(end, ErrQuoted, "text after the closing quote")
		}
		at = end
	} else {
		at = strings.IndexByte(s, '@')
		if at < 0 {
			return Address{}, fault(len(s), ErrNoAt, "")
		}
	}
	if j := strings.IndexByte(s[at+1:], '@'); j >= 0 {
		return Address{}, fault(at+1+j, ErrManyAt, "")
	}

	local, fl, e := p.parseLocal(s[:at], ascii || asciiUpTo > at)
	if e != nil {
		return Address{}, e
	}
	d, e := p.parseDomain(s[at+1:], at+1)
	if e != nil {
		return Address{}, e
	}
	fl |= d.flags

	n := len(local) + 1 + max(len(d.unicode), len(d.ascii))
	if p.Verbatim {
		n = len(s)
	}
	if n > maxAddress {
		return Address{}, fault(0, ErrTooLong, "")
	}
	addr := s
	if local != s[:at] || d.unicode != s[at+1:] {
		addr = local + "@" + d.unicode
	}
	return Address{addr: addr, at: len(local), ascii: d.ascii, flags: fl}, nil
}

// screen checks the encoding (P1/S1) and, unless p.Verbatim, the character
// screen (P2) of s. ASCII control characters are rejected under every
// policy: no grammar of an address admits them. It returns the offset of the
// first non-ASCII byte, or len(s).
func (p Policy) screen(s string) (int, *Error) {
	firstNonASCII := len(s)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c < 0x20 || c == 0x7f:
				return 0, fault(i, ErrControl, controlName(rune(c)))
			case c == ' ' && !p.Verbatim:
				return 0, fault(i, ErrBadChar, "space")
			}
			i++
			continue
		}
		if firstNonASCII == len(s) {
			firstNonASCII = i
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			return 0, fault(i, ErrEncoding, "")
		}
		if !p.Verbatim {
			if e := screenRune(r); e != nil {
				e.Pos = i
				return 0, e
			}
		}
		i += n
	}
	return firstNonASCII, nil
}
