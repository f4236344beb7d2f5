package syntax

import "fmt"

// Classes of screenTable: what the practical character screen (SYNTAX.md
// P2) rejects, and why.
const (
	screenOK = iota
	screenControl
	screenFormat
	screenSurrogate
	screenPrivate
	screenUnassigned
	screenSpace
	screenIgnorable
)

// screenRune judges one non-ASCII code point against the P2 screen.
func screenRune(r rune) *Error {
	var what string
	switch lookup(screenTable[:], r) {
	case screenOK:
		return nil
	case screenControl:
		return fault(0, ErrControl, controlName(r))
	case screenFormat:
		what = "format character"
	case screenSurrogate:
		what = "surrogate"
	case screenPrivate:
		what = "private-use character"
	case screenUnassigned:
		what = "unassigned code point or noncharacter"
	case screenSpace:
		what = "space or separator"
	default:
		what = "default-ignorable character"
	}
	return fault(0, ErrBadChar, fmt.Sprintf("%s %U", what, r))
}

func controlName(r rune) string {
	switch r {
	case '\r':
		return "CR"
	case '\n':
		return "LF"
	case 0:
		return "NUL"
	case '\t':
		return "TAB"
	}
	return fmt.Sprintf("%U", r)
}
