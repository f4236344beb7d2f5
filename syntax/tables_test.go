package syntax

import (
	"testing"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// TestIDNATableAgainstGo recomputes the RFC 5892 derived property of every
// code point from Go's unicode package and x/text (an independent path
// from the UCD files the generator reads) and compares it with idnaTable.
func TestIDNATableAgainstGo(t *testing.T) {
	if testing.Short() {
		t.Skip("walks all of Unicode")
	}
	t.Parallel()
	fold := cases.Fold()
	exceptions := map[rune]uint8{
		0x00DF: propPValid, 0x03C2: propPValid, 0x06FD: propPValid, 0x06FE: propPValid,
		0x0F0B: propPValid, 0x3007: propPValid, 0x00B7: propContextO, 0x0375: propContextO,
		0x05F3: propContextO, 0x05F4: propContextO, 0x30FB: propContextO, 0x0640: propDisallowed,
		0x07FA: propDisallowed, 0x302E: propDisallowed, 0x302F: propDisallowed, 0x3031: propDisallowed,
		0x3032: propDisallowed, 0x3033: propDisallowed, 0x3034: propDisallowed, 0x3035: propDisallowed,
		0x303B: propDisallowed,
	}
	letterDigits := []*unicode.RangeTable{unicode.Ll, unicode.Lu, unicode.Lo, unicode.Nd, unicode.Lm, unicode.Mn, unicode.Mc}
	ignorable := []*unicode.RangeTable{unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector, unicode.White_Space, unicode.Noncharacter_Code_Point}
	oldHangul := func(r rune) bool {
		return r >= 0x1100 && r <= 0x11FF || r >= 0xA960 && r <= 0xA97C || r >= 0xD7B0 && r <= 0xD7C6 || r >= 0xD7CB && r <= 0xD7FB
	}
	want := func(r rune) uint8 {
		if p, ok := exceptions[r]; ok {
			return p
		}
		if r >= 0x0660 && r <= 0x0669 || r >= 0x06F0 && r <= 0x06F9 {
			return propContextO
		}
		if r == '-' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' {
			return propPValid
		}
		if r == 0x200C || r == 0x200D {
			return propContextJ
		}
		if !unicode.In(r, letterDigits...) {
			return 255 // disallowed or unassigned: checked below
		}
		if r >= 0x13A0 && r <= 0x13F5 {
			// x/text's Fold maps Cherokee capitals to small letters;
			// CaseFolding.txt folds the other way (small letters, added in
			// Unicode 8.0, fold to the capitals), so the capitals are stable.
			return propPValid
		}
		s := string(r)
		if norm.NFKC.String(fold.String(norm.NFKC.String(s))) != s {
			return propDisallowed // Unstable
		}
		if unicode.In(r, ignorable...) || r >= 0x20D0 && r <= 0x20FF || r >= 0x1D100 && r <= 0x1D24F || oldHangul(r) {
			return propDisallowed
		}
		return propPValid
	}
	mismatches := 0
	for r := rune(0); r <= unicode.MaxRune; r++ {
		got, w := idnaProp(r), want(r)
		if w == 255 {
			if got == propPValid || got == propContextJ || got == propContextO {
				t.Errorf("%U: table says %d, but it is not a letter or digit", r, got)
				mismatches++
			}
			continue
		}
		if got != w {
			t.Errorf("%U: table says %d, Go's tables say %d", r, got, w)
			mismatches++
		}
		if mismatches > 20 {
			t.Fatal("too many mismatches")
		}
	}
}

// TestTablesSpotChecks pins well-known properties from RFC 5892 and the
// IANA IDNA tables.
func TestTablesSpotChecks(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		r    rune
		prop uint8
	}{
		{'a', propPValid}, {'A', propDisallowed}, {'-', propPValid}, {'_', propDisallowed},
		{0x00FC, propPValid}, {0x00DC, propDisallowed}, {0x00DF, propPValid}, {0x1E9E, propDisallowed},
		{0x200C, propContextJ}, {0x200D, propContextJ}, {0x00B7, propContextO}, {0x0660, propContextO},
		{0x0640, propDisallowed}, {0x2764, propDisallowed}, {0x1F600, propDisallowed}, {0xFF41, propDisallowed},
		{0x3002, propDisallowed}, {0x0378, propUnassigned}, {0xFDD0, propDisallowed}, {0x4E00, propPValid},
		{0x1100, propDisallowed}, {0xAC00, propPValid}, {0x05D0, propPValid}, {0x0301, propPValid},
		{0x20D0, propDisallowed}, {0x13A0, propPValid}, {0xAB70, propDisallowed}, {0x10FFFF, propDisallowed}, {0xE0001, propDisallowed},
	} {
		if got := idnaProp(c.r); got != c.prop {
			t.Errorf("idnaProp(%U) = %d, want %d", c.r, got, c.prop)
		}
	}
	for _, c := range []struct {
		r    rune
		join uint8
	}{
		{0x0628, joinD}, {0x0627, joinR}, {0x0645, joinD}, {0x064B, joinT}, {'a', joinU}, {0x200D, joinC}, {0x0301, joinT},
	} {
		if got := joiningType(c.r); got != c.join {
			t.Errorf("joiningType(%U) = %d, want %d", c.r, got, c.join)
		}
	}
	for _, c := range []struct {
		r      rune
		screen uint8
	}{
		{0x0085, screenControl}, {0x200B, screenFormat}, {0x200C, screenOK}, {0xE000, screenPrivate},
		{0x0378, screenUnassigned}, {0x00A0, screenSpace}, {0x2029, screenSpace}, {0x034F, screenIgnorable},
		{0xFE0F, screenIgnorable}, {0x00E9, screenOK}, {0xFFFF, screenUnassigned},
	} {
		if got := lookup(screenTable[:], c.r); got != c.screen {
			t.Errorf("screen(%U) = %d, want %d", c.r, got, c.screen)
		}
	}
}
