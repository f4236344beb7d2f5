package syntax

import (
	"fmt"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/bidi"
	"golang.org/x/text/unicode/norm"
)

// IDNA2008 derived properties (RFC 5892 section 3); the values in idnaTable.
const (
	propDisallowed = iota
	propPValid
	propContextJ
	propContextO
	propUnassigned
)

// Joining types (Unicode ArabicShaping.txt); the values in joinTable.
const (
	joinU = iota
	joinD
	joinL
	joinR
	joinT
	joinC
)

// lookup returns the value that table t gives code point r. Tables are
// sorted start<<8|value entries beginning at 0, as syntax/internal/gen
// writes them.
func lookup(t []uint32, r rune) uint8 {
	key := uint32(r) << 8
	lo, hi := 0, len(t)
	for lo < hi { // find the first entry whose start is above r
		m := int(uint(lo+hi) >> 1)
		if t[m]&^0xff <= key {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return uint8(t[lo-1])
}

func idnaProp(r rune) uint8 {
	if r < rune(len(latin1Prop)) {
		return latin1Prop[r]
	}
	return lookup(idnaTable[:], r)
}

// latin1Prop caches the IDNA2008 property of the first 256 code points,
// the most looked up.
var latin1Prop = func() (t [256]uint8) {
	for r := range t {
		t[r] = lookup(idnaTable[:], rune(r))
	}
	return t
}()

func joiningType(r rune) uint8 { return lookup(joinTable[:], r) }

// checkULabel judges a non-ASCII label as a U-label (RFC 5890 section
// 2.3.2.1 and RFC 5891 section 4.2): NFC, hyphen rules, no leading combining
// mark, every code point PVALID or a CONTEXTJ/CONTEXTO code point whose RFC
// 5892 appendix A rule holds. On failure it returns the byte offset in u of
// the problem, a detail and the sentinel. Length and Bidi are the
// caller's: they depend on the A-label and on the other labels.
func checkULabel(u string) (pos int, detail string, err error) {
	if !norm.NFC.IsNormalString(u) {
		return 0, "label is not in Unicode NFC", ErrIDNA
	}
	return checkUCodePoints(u)
}

// checkUCodePoints is checkULabel without the NFC test, for callers that
// have shown NFC otherwise (see nfcQuick); it keeps nothing of u.
func checkUCodePoints(u string) (pos int, detail string, err error) {
	if u[0] == '-' {
		return 0, "label begins with a hyphen", ErrHyphen
	}
	if u[len(u)-1] == '-' {
		return len(u) - 1, "label ends with a hyphen", ErrHyphen
	}
	if i := hyphens34(u); i >= 0 {
		return i, "hyphens in the third and fourth positions of a U-label", ErrHyphen
	}
	if r, _ := utf8.DecodeRuneInString(u); unicode.Is(unicode.M, r) {
		return 0, fmt.Sprintf("label begins with combining mark %U", r), ErrCombiningMark
	}
	for i, r := range u {
		if r < utf8.RuneSelf && ('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-') {
			continue // PVALID (RFC 5892 appendix B), spared the table search
		}
		switch idnaProp(r) {
		case propPValid:
		case propContextJ:
			if !contextJ(u, i, r) {
				return i, fmt.Sprintf("%U (CONTEXTJ) is not preceded by a virama or in a joining context", r), ErrContext
			}
		case propContextO:
			if !contextO(u, i, r) {
				return i, fmt.Sprintf("%U (CONTEXTO) appears outside its RFC 5892 context", r), ErrContext
			}
		case propUnassigned:
			return i, fmt.Sprintf("%U is unassigned in Unicode %s", r, unicodeVersion), ErrIDNA
		default:
			return i, fmt.Sprintf("%U is DISALLOWED in IDNA2008", r), ErrIDNA
		}
	}
	return 0, "", nil
}

// hyphens34 returns the byte offset of "--" in the third and fourth
// characters of s, or -1.
func hyphens34(s string) int {
	n := 0
	for i, r := range s {
		n++
		if n == 3 {
			if r == '-' && i+1 < len(s) && s[i+1] == '-' {
				return i
			}
			return -1
		}
	}
	return -1
}

const virama = 9 // Canonical_Combining_Class of a virama

// before returns the code point before byte offset i in s, or -1.
func before(s string, i int) rune {
	if i == 0 {
		return -1
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return r
}

// after returns the code point after the one at byte offset i, or -1.
func after(s string, i int) rune {
	_, n := utf8.DecodeRuneInString(s[i:])
	if i+n >= len(s) {
		return -1
	}
	r, _ := utf8.DecodeRuneInString(s[i+n:])
	return r
}

func isVirama(r rune) bool {
	if r < 0 {
		return false
	}
	var b [utf8.UTFMax]byte
	n := utf8.EncodeRune(b[:], r)
	return norm.NFC.Properties(b[:n]).CCC() == virama
}

// contextJ applies RFC 5892 appendix A.1 (ZERO WIDTH NON-JOINER) and A.2
// (ZERO WIDTH JOINER) to the code point r at byte offset i of s.
func contextJ(s string, i int, r rune) bool {
	if isVirama(before(s, i)) {
		return true
	}
	if r != 0x200C {
		return false
	}
	// (Joining_Type:{L,D})(Joining_Type:T)*\u200C(Joining_Type:T)*(Joining_Type:{R,D})
	left := false
	for j := i; j > 0; {
		c, n := utf8.DecodeLastRuneInString(s[:j])
		j -= n
		t := joiningType(c)
		if t == joinT {
			continue
		}
		left = t == joinL || t == joinD
		break
	}
	if !left {
		return false
	}
	for _, c := range s[i+len("\u200c"):] {
		t := joiningType(c)
		if t == joinT {
			continue
		}
		return t == joinR || t == joinD
	}
	return false
}

// contextO applies the CONTEXTO rules of RFC 5892 appendix A.3 to A.9 to
// the code point r at byte offset i of s.
func contextO(s string, i int, r rune) bool {
	switch {
	case r == 0x00B7: // MIDDLE DOT: between two l's (Catalan l·l)
		return before(s, i) == 'l' && after(s, i) == 'l'
	case r == 0x0375: // GREEK LOWER NUMERAL SIGN (KERAIA): before Greek
		a := after(s, i)
		return a >= 0 && unicode.Is(unicode.Greek, a)
	case r == 0x05F3 || r == 0x05F4: // HEBREW GERESH, GERSHAYIM: after Hebrew
		b := before(s, i)
		return b >= 0 && unicode.Is(unicode.Hebrew, b)
	case r == 0x30FB: // KATAKANA MIDDLE DOT: with Hiragana, Katakana or Han
		for _, c := range s {
			if c != 0x30FB && (unicode.Is(unicode.Hiragana, c) || unicode.Is(unicode.Katakana, c) || unicode.Is(unicode.Han, c)) {
				return true
			}
		}
		return false
	case r >= 0x0660 && r <= 0x0669: // ARABIC-INDIC DIGITS: not mixed with extended ones
		for _, c := range s {
			if c >= 0x06F0 && c <= 0x06F9 {
				return false
			}
		}
		return true
	case r >= 0x06F0 && r <= 0x06F9: // EXTENDED ARABIC-INDIC DIGITS: not mixed with 0660-0669
		for _, c := range s {
			if c >= 0x0660 && c <= 0x0669 {
				return false
			}
		}
		return true
	}
	return false
}

// isRTL reports whether s has a character of Bidi_Class R, AL or AN, which
// makes a domain holding it a Bidi domain name (RFC 5893 section 1.4).
func isRTL(s string) bool {
	for _, r := range s {
		if r < 0x590 {
			continue // no R, AL or AN code point comes before Hebrew
		}
		switch bidiClass(r) {
		case bidi.R, bidi.AL, bidi.AN:
			return true
		}
	}
	return false
}

func bidiClass(r rune) bidi.Class {
	p, _ := bidi.LookupRune(r)
	return p.Class()
}

// bidiRule reports whether label s satisfies the six conditions of the
// RFC 5893 section 2 Bidi Rule, with the byte offset of the first offender.
func bidiRule(s string) (bool, int) {
	first, _ := utf8.DecodeRuneInString(s)
	fc := bidiClass(first)
	var rtl bool
	switch fc {
	case bidi.R, bidi.AL:
		rtl = true
	case bidi.L:
	default:
		return false, 0 // condition 1
	}
	var hasEN, hasAN bool
	last := -1 // class of the last character that is not NSM
	lastAt := 0
	for i, r := range s {
		c := bidiClass(r)
		if rtl {
			switch c {
			case bidi.R, bidi.AL, bidi.AN, bidi.EN, bidi.ES, bidi.CS, bidi.ET, bidi.ON, bidi.BN, bidi.NSM: // condition 2
			default:
				return false, i
			}
			hasEN = hasEN || c == bidi.EN
			hasAN = hasAN || c == bidi.AN
			if hasEN && hasAN { // condition 4
				return false, i
			}
		} else {
			switch c {
			case bidi.L, bidi.EN, bidi.ES, bidi.CS, bidi.ET, bidi.ON, bidi.BN, bidi.NSM: // condition 5
			default:
				return false, i
			}
		}
		if c != bidi.NSM {
			last, lastAt = int(c), i
		}
	}
	if rtl { // condition 3
		switch bidi.Class(last) {
		case bidi.R, bidi.AL, bidi.EN, bidi.AN:
			return true, 0
		}
		return false, lastAt
	}
	switch bidi.Class(last) { // condition 6
	case bidi.L, bidi.EN:
		return true, 0
	}
	return false, lastAt
}
