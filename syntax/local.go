package syntax

import (
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"
)

// atext marks the ASCII characters of RFC 5322 section 3.2.3 atext.
var atext = func() (t [utf8.RuneSelf]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "!#$%&'*+-/=?^_`{|}~" {
		t[c] = true
	}
	return t
}()

// identifier is the PRECIS IdentifierClass (RFC 8264 section 4.2) that
// non-ASCII local parts must belong to under the practical policy.
var identifier = precis.NewIdentifier()

// parseLocal validates the local part l, which starts at offset 0 of the
// input, and returns its normalized form. ascii reports whether l is
// all ASCII.
func (p Policy) parseLocal(l string, ascii bool) (string, flags, *Error) {
	var fl flags
	if l == "" {
		return "", 0, fault(0, ErrEmptyLocal, "")
	}
	if l[0] == '"' {
		if !p.AllowQuoted {
			return "", 0, fault(0, ErrQuoted, "quoted local parts are not accepted")
		}
		// parse has already checked the grammar with quotedEnd.
		fl |= flagQuoted
	} else if e := dotAtom(l); e != nil {
		return "", 0, e
	}
	if !ascii {
		if !p.AllowUTF8Local {
			return "", 0, fault(firstNonASCII(l), ErrUTF8Local, "")
		}
		if !p.Verbatim {
			var e *Error
			if l, e = practicalLocal(l); e != nil {
				return "", 0, e
			}
		}
		if !isASCII(l) { // NFC may have made it ASCII (U+212A KELVIN SIGN is K)
			fl |= flagUTF8Local
		}
	}
	if len(l) > maxLocal {
		return "", 0, fault(0, ErrLocalTooLong, fmt.Sprintf("%d octets, at most %d", len(l), maxLocal))
	}
	return l, fl, nil
}

// dotAtom checks the Dot-string grammar (S3, P4c, P4d): atoms of atext or
// non-ASCII characters joined by single dots.
func dotAtom(l string) *Error {
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case c >= utf8.RuneSelf:
			// Judged by the policy: any code point (Verbatim) or PRECIS.
		case c == '.':
			switch {
			case i == 0:
				return fault(i, ErrDots, "local part begins with a dot")
			case i == len(l)-1:
				return fault(i, ErrDots, "local part ends with a dot")
			case l[i+1] == '.':
				return fault(i, ErrDots, "two dots in a row in the local part")
			}
		case !atext[c]:
			return fault(i, ErrBadChar, fmt.Sprintf("%q is not allowed in an unquoted local part", c))
		}
	}
	return nil
}

// practicalLocal applies P4b, P4e and P4f to a non-ASCII dot-atom or quoted
// local part and returns its NFC form.
func practicalLocal(l string) (string, *Error) {
	// An atom may not begin with a combining mark (P4f). NFC never moves a
	// mark across a dot, so checking the input is checking the NFC form.
	for i := 0; i < len(l); {
		r, n := utf8.DecodeRuneInString(l[i:])
		if unicode.Is(unicode.M, r) && (i == 0 || l[i-1] == '.') {
			return "", fault(i, ErrCombiningMark, fmt.Sprintf("atom begins with %U", r))
		}
		i += n
	}
	n := l
	if !norm.NFC.IsNormalString(l) {
		n = norm.NFC.String(l)
		// NFC can turn a non-ASCII character into ASCII punctuation
		// (U+037E GREEK QUESTION MARK becomes ";"): judge the grammar again.
		if e := nfcGrammar(l, n); e != nil {
			return "", e
		}
	}
	if _, err := identifier.String(n); err != nil {
		return "", fault(badIdentifierRune(l), ErrBadChar, "not a PRECIS identifier character")
	}
	return n, nil
}

// nfcGrammar checks that n, the NFC form of local part l, still has the
// grammar l had: a dot-atom, or one whole quoted string.
func nfcGrammar(l, n string) *Error {
	var e *Error
	if n[0] == '"' {
		end, qe := quotedEnd(n)
		if qe == nil && end != len(n) {
			qe = fault(0, ErrQuoted, "")
		}
		e = qe
	} else {
		e = dotAtom(n)
	}
	if e == nil {
		return nil
	}
	// Blame the first character whose NFC form is ASCII but not atext.
	pos := 0
	for i, r := range l {
		if r < utf8.RuneSelf {
			continue
		}
		if f := norm.NFC.String(string(r)); isASCII(f) && !atext[f[0]] {
			pos = i
			break
		}
	}
	return fault(pos, e.Err, "NFC turns the local part into "+strconv.Quote(n)+": "+e.Detail)
}

// badIdentifierRune returns the offset in the input local part l of the
// first code point that fails the PRECIS IdentifierClass on its own, or 0
// when only the context rules fail.
func badIdentifierRune(l string) int {
	for i, r := range l {
		if r < utf8.RuneSelf {
			continue
		}
		if _, err := identifier.String(string(r)); err != nil && r != 0x200C && r != 0x200D && idnaProp(r) != propContextO {
			return i
		}
	}
	return 0
}

func firstNonASCII(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return i
		}
	}
	return 0
}

// quotedEnd scans the RFC 5321 Quoted-string at the start of s (S3) and
// returns the offset just after its closing quote.
func quotedEnd(s string) (int, *Error) {
	for i := 1; i < len(s); {
		c := s[i]
		switch {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			// quoted-pairSMTP is a backslash and one of %d32-126; RFC 6531
			// does not extend it to non-ASCII.
			if i+1 >= len(s) || s[i+1] < 32 || s[i+1] > 126 {
				return 0, fault(i, ErrQuoted, "a backslash must be followed by a printable ASCII character")
			}
			i += 2
		case c >= utf8.RuneSelf:
			_, n := utf8.DecodeRuneInString(s[i:])
			i += n
		case c >= 32 && c <= 126:
			i++
		default:
			return 0, fault(i, ErrControl, controlName(rune(c)))
		}
	}
	return 0, fault(len(s), ErrQuoted, "unterminated quoted string")
}
