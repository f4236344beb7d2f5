package syntax

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
// part and a domain of LDH labels with no "--" in positions 3-4 (so no
// A-labels). Anything else, valid or not, reports false and goes to the
// general path, which also words the errors; so parseFast never rejects,
// it only declines. Every address it accepts, the general path accepts
// the same way under the same policy (FuzzParse checks this).
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
	start, labels, upper := at+1, 1, false
	digits := true // the current label is all digits
	for i = at + 1; i < len(s); i++ {
		c := s[i]
		k := charClass[c]
		if k&cLDH != 0 {
			digits = digits && k&cDigit != 0
			continue
		}
		switch {
		case c == '.':
			if !ldhLabelOK(s, start, i) {
				return Address{}, false
			}
			labels++
			start, digits = i+1, true
		case k&cUpper != 0:
			upper, digits = true, false
		case c == '-' && i > start:
			digits = false
		default:
			return Address{}, false
		}
	}
	if !ldhLabelOK(s, start, len(s)) {
		return Address{}, false
	}
	tld := s[start:]
	if labels == 1 && !p.AllowSingleLabel || digits && !p.AllowNumericTLD ||
		!p.AllowSpecialUse && isSpecialUse(tld) || len(s)-at-1 > maxDomain {
		return Address{}, false
	}
	if upper {
		var b [maxAddress]byte
		copy(b[:], s)
		for j := at + 1; j < len(s); j++ {
			if charClass[b[j]]&cUpper != 0 {
				b[j] += 'a' - 'A'
			}
		}
		s = string(b[:len(s)])
	}
	return Address{addr: s, at: at, ascii: s[at+1:]}, true
}

// ldhLabelOK checks the label s[start:end] for the fast path: 1 to 63
// octets, no trailing hyphen, no "--" in positions 3-4.
func ldhLabelOK(s string, start, end int) bool {
	n := end - start
	return n > 0 && n <= maxLabel && s[end-1] != '-' && (n < 4 || s[start+2] != '-' || s[start+3] != '-')
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
