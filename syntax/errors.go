package syntax

import (
	"errors"
	"strconv"
)

// The sentinel errors that an [*Error] wraps. Each names one condition; test
// for it with [errors.Is]. The set is part of the API: a new rule gets a new
// sentinel rather than a new meaning for an old one.
var (
	// ErrTooLong: the whole address exceeds 254 octets (RFC 5321 section
	// 4.5.3.1.3), or the input is far larger than any address can be.
	ErrTooLong = errors.New("address too long")
	// ErrEncoding: the input is not well-formed UTF-8 (RFC 3629).
	ErrEncoding = errors.New("invalid UTF-8")
	// ErrControl: a control character (C0, DEL or C1), such as CR, LF or NUL.
	ErrControl = errors.New("control character")
	// ErrBadChar: a character that may not appear where it stands: a space,
	// a format or private-use character, an unassigned code point, a
	// character outside atext, or one that PRECIS or IDNA2008 disallows.
	ErrBadChar = errors.New("character not allowed")
	// ErrNoAt: there is no "@" between a local part and a domain.
	ErrNoAt = errors.New("missing @")
	// ErrManyAt: more than one "@" outside a quoted local part.
	ErrManyAt = errors.New("more than one @")
	// ErrEmptyLocal: the local part is empty.
	ErrEmptyLocal = errors.New("empty local part")
	// ErrLocalTooLong: the local part exceeds 64 octets (RFC 5321 section 4.5.3.1.1).
	ErrLocalTooLong = errors.New("local part too long")
	// ErrDots: a leading, trailing or doubled dot in the local part or the
	// domain (including a trailing root dot).
	ErrDots = errors.New("misplaced dot")
	// ErrQuoted: a quoted local part where the policy rejects them, or a
	// malformed one.
	ErrQuoted = errors.New("quoted local part")
	// ErrUTF8Local: a non-ASCII local part where the policy rejects them.
	ErrUTF8Local = errors.New("non-ASCII local part")
	// ErrCombiningMark: an atom or label begins with a combining mark.
	ErrCombiningMark = errors.New("leading combining mark")
	// ErrEmptyDomain: nothing follows the "@".
	ErrEmptyDomain = errors.New("empty domain")
	// ErrDomainTooLong: the domain exceeds 253 octets in A-label form.
	ErrDomainTooLong = errors.New("domain too long")
	// ErrLabelTooLong: a label exceeds 63 octets in A-label form.
	ErrLabelTooLong = errors.New("label too long")
	// ErrHyphen: a label begins or ends with a hyphen, or a U-label has
	// hyphens in positions 3 and 4.
	ErrHyphen = errors.New("misplaced hyphen")
	// ErrIDNA: a label is not a valid IDNA2008 label: a fake or non-canonical
	// A-label, a code point that is not PVALID, a label not in NFC, or a
	// domain that UTS #46 cannot map.
	ErrIDNA = errors.New("invalid internationalized label")
	// ErrContext: a CONTEXTJ or CONTEXTO code point (ZWNJ, ZWJ, MIDDLE DOT,
	// KERAIA, GERESH, GERSHAYIM, KATAKANA MIDDLE DOT, Arabic-Indic digits)
	// whose RFC 5892 appendix A rule does not hold.
	ErrContext = errors.New("contextual rule not satisfied")
	// ErrBidi: a label of a Bidi domain name breaks the RFC 5893 Bidi Rule.
	ErrBidi = errors.New("bidi rule violated")
	// ErrLiteral: an address literal where the policy rejects them, or a
	// malformed one.
	ErrLiteral = errors.New("address literal")
	// ErrSingleLabel: a dotless domain where the policy rejects them.
	ErrSingleLabel = errors.New("single-label domain")
	// ErrNumericTLD: the top-level label is all digits.
	ErrNumericTLD = errors.New("numeric top-level domain")
	// ErrSpecialUse: a special-use top-level domain (.test, .example,
	// .invalid, .localhost, .local, .onion, .alt, .internal, .arpa).
	ErrSpecialUse = errors.New("special-use domain")
)

// An Error reports why a string is not an acceptable address under a
// [Policy]. Err is always one of the sentinels above.
type Error struct {
	Input  string // the string given to Parse
	Pos    int    // byte offset in Input where the problem was found
	Err    error  // one of the Err* sentinels
	Detail string // optional human-readable detail; its text may change
}

// maxQuoted bounds how much of Input an error message repeats.
const maxQuoted = 80

// Error formats the problem as `syntax: parse "<input>": <what> (<detail>) at
// offset N`, shortening a long input.
func (e *Error) Error() string {
	in := e.Input
	if len(in) > maxQuoted {
		in = in[:maxQuoted] + "..."
	}
	msg := "syntax: parse " + strconv.Quote(in) + ": " + e.Err.Error()
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	return msg + " at offset " + strconv.Itoa(e.Pos)
}

// Unwrap returns the sentinel, so errors.Is(err, ErrLocalTooLong) works.
func (e *Error) Unwrap() error { return e.Err }
