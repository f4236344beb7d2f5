package syntax

import (
	"unicode/utf8"
	"unsafe"

	"golang.org/x/text/unicode/norm"
)

// Character classes for the one-pass fast path.
const (
	cAtext = 1 << iota // RFC 5322 atext
	cLDH               // lower-case letter or digit
	cUpper             // upper-case letter
	cDigit
)

var charClass = func() (t [256]uint8) {
	for c := range atext {
		if atext[c] {
			t[c] |= cAtext
		}
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] |= cLDH
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] |= cUpper
	}
	for c := '0'; c <= '9'; c++ {
		t[c] |= cLDH | cDigit
	}
	return t
}()

// parseFast accepts, in one pass, the common case: an ASCII dot-atom local
// part and a domain of LDH labels, some of them A-labels ("xn--"), which
// it validates without allocating (see fastIDN). Anything else, valid or
// not, reports false and goes to the general path, which also words the
// errors; so parseFast never rejects, it only declines. Every address it
// accepts, the general path accepts the same way under the same policy
// (FuzzParse checks this).
func (p Policy) parseFast(s string) (Address, bool) {
	if len(s) > maxAddress {
		return Address{}, false
	}
	// Local part: atoms of atext joined by single dots.
	i, dot := 0, true // dot: the previous byte was a dot, or this is the start
	for ; i < len(s); i++ {
		c := s[i]
		if charClass[c]&cAtext != 0 {
			dot = false
			continue
		}
		if c != '.' || dot {
			break
		}
		dot = true
	}
	at := i
	if at == len(s) || s[at] != '@' || at == 0 || dot || at > maxLocal {
		return Address{}, false
	}
	// Domain: LDH labels of 1 to 63 octets, no hyphen at either end.
	start, labels, upper, xn := at+1, 1, false, false
	for i = at + 1; i < len(s); i++ {
		c := s[i]
		k := charClass[c]
		if k&cLDH != 0 {
			continue
		}
		switch {
		case c == '.':
			ok, x := ldhLabelOK(s, start, i)
			if !ok {
				return Address{}, false
			}
			xn = xn || x
			labels++
			start = i + 1
		case k&cUpper != 0:
			upper = true
		case c == '-' && i > start:
		default:
			return Address{}, false
		}
	}
	ok, x := ldhLabelOK(s, start, len(s))
	if !ok {
		return Address{}, false
	}
	xn = xn || x
	tld := s[start:]
	if labels == 1 && !p.AllowSingleLabel || !p.AllowNumericTLD && allDigits(tld) ||
		!p.AllowSpecialUse && isSpecialUse(tld) || len(s)-at-1 > maxDomain {
		return Address{}, false
	}
	if xn {
		return fastIDN(s, at, upper)
	}
	if upper {
		var b [maxAddress]byte
		copy(b[:], s)
		lowerDomain(b[:len(s)], at)
		s = string(b[:len(s)])
	}
	return Address{addr: s, at: at, ascii: s[at+1:]}, true
}

// lowerDomain lowers the ASCII letters of b after the '@' at index at.
func lowerDomain(b []byte, at int) {
	for j := at + 1; j < len(b); j++ {
		if charClass[b[j]]&cUpper != 0 {
			b[j] += 'a' - 'A'
		}
	}
}

// ldhLabelOK checks the label s[start:end] for the fast path: 1 to 63
// octets, no trailing hyphen, and "--" in positions 3-4 only after "xn",
// in which case it reports an A-label to validate.
func ldhLabelOK(s string, start, end int) (ok, xn bool) {
	n := end - start
	if n == 0 || n > maxLabel || s[end-1] == '-' {
		return false, false
	}
	if n < 4 || s[start+2] != '-' || s[start+3] != '-' {
		return true, false
	}
	xn = s[start]|0x20 == 'x' && s[start+1]|0x20 == 'n'
	return xn, xn
}

// fastIDN finishes the fast path for an LDH address s whose domain has
// A-labels: it lowers the domain, validates each A-label as aLabel does
// (a real Punycode encoding, canonical, of a U-label that is not ASCII)
// and builds the U-label form, in stack buffers. A domain with a
// right-to-left label goes to the general path, which applies the Bidi
// Rule across labels. The one allocation is the Address's text.
func fastIDN(s string, at int, upper bool) (Address, bool) {
	dom := s[at+1:]
	var lowered [maxDomain]byte
	if upper {
		b := lowered[:copy(lowered[:], dom)]
		lowerDomain(b, -1)
		dom = unsafe.String(&b[0], len(b))
	}
	// The result: the local part, "@", the U-label domain, then the
	// A-label domain. A U-label form much longer than its A-labels goes to
	// the general path.
	var out [2*maxAddress + maxDomain]byte
	k := copy(out[:], s[:at+1])
	var runes [maxLabel]rune
	var enc [maxLabel]byte
	for start := 0; start <= len(dom); {
		end := start
		for end < len(dom) && dom[end] != '.' {
			end++
		}
		l := dom[start:end]
		if len(l) >= 4 && l[2] == '-' && l[3] == '-' {
			n, ok := punyDecode(l[4:], runes[:])
			if !ok {
				return Address{}, false
			}
			u0, nonASCII := k, false
			for _, r := range runes[:n] {
				if k+utf8.UTFMax > len(out)-maxDomain {
					return Address{}, false // an uncommonly long U-label form
				}
				nonASCII = nonASCII || r >= utf8.RuneSelf
				k += utf8.EncodeRune(out[k:], r)
			}
			u := unsafe.String(&out[u0], k-u0)
			if !nonASCII {
				return Address{}, false // a fake A-label
			}
			if !nfcQuick(u) || isRTL(u) {
				return Address{}, false
			}
			if _, _, err := checkUCodePoints(u); err != nil {
				return Address{}, false
			}
			m, ok := punyEncode(runes[:n], enc[:])
			if !ok || string(enc[:m]) != l[4:] {
				return Address{}, false // not the canonical encoding
			}
		} else {
			if k+len(l)+1 > len(out)-maxDomain {
				return Address{}, false
			}
			k += copy(out[k:], l)
		}
		if end < len(dom) {
			out[k] = '.'
			k++
		}
		start = end + 1
	}
	udomain := k
	k += copy(out[k:], dom)
	text := string(out[:k])
	return Address{addr: text[:udomain], at: at, ascii: text[udomain:]}, true
}

// isSpecialUse reports whether an ASCII top-level label, in any case, is one
// of the special-use names of P5f.
func isSpecialUse(tld string) bool {
	if len(tld) < 3 || len(tld) > 9 {
		return false
	}
	var b [9]byte
	for i := 0; i < len(tld); i++ {
		b[i] = tld[i] | 0x20 // ASCII letters to lower case; other bytes cannot match anyway
	}
	switch string(b[:len(tld)]) {
	case "test", "example", "invalid", "localhost", "local", "onion", "alt", "internal", "arpa":
		return true
	}
	return false
}

// nfcQuick reports whether the UTF-8 u passes the NFC quick check with
// every code point a starter that combines with nothing before it (UAX
// #15: quick check Yes and combining class 0), which proves u is in NFC.
// It does not say No for the other cases; the fast path then declines. A
// code point whose quick check is No never gets here: it is not stable
// under NFKC case folding, so IDNA2008 disallows it (RFC 5892, Unstable).
func nfcQuick(u string) bool {
	for i := 0; i < len(u); {
		// Ranges of starters that combine with nothing before them, to
		// spare the table walk: below the combining diacritical marks,
		// the CJK unified ideographs, the Hangul syllables.
		r, n := utf8.DecodeRuneInString(u[i:])
		if r < 0x300 || 0x4E00 <= r && r <= 0x9FFF || 0xAC00 <= r && r <= 0xD7A3 {
			i += n
			continue
		}
		p := norm.NFC.PropertiesString(u[i:])
		if !p.BoundaryBefore() || p.Size() == 0 {
			return false
		}
		i += p.Size()
	}
	return true
}
