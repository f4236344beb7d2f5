package syntax

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// domain is a validated domain: U-label and A-label forms.
type domain struct {
	unicode string
	ascii   string
	flags   flags
}

// label is one label of a domain being parsed.
type label struct {
	pos int    // offset of the label in the input
	u   string // U-label form (lower case)
	a   string // A-label form
}

// mapper applies UTS #46 non-transitional processing with
// UseSTD3ASCIIRules (P5b). Hyphen and joiner checks are left to our own
// IDNA2008 validation, which accepts R-LDH labels such as ex--ample and
// applies the full CONTEXTJ rules.
var mapper = idna.New(
	idna.MapForLookup(),
	idna.Transitional(false),
	idna.StrictDomainName(true),
	idna.CheckHyphens(false),
	idna.CheckJoiners(false),
)

// parseDomain validates the domain d found at offset off of the input.
func (p Policy) parseDomain(d string, off int) (domain, *Error) {
	if d == "" {
		return domain{}, fault(off, ErrEmptyDomain, "")
	}
	if d[0] == '[' {
		if !p.AllowLiteral {
			return domain{}, fault(off, ErrLiteral, "address literals are not accepted")
		}
		return parseLiteral(d, off)
	}
	if isASCII(d) {
		return p.asciiDomain(d, off)
	}
	return p.idnDomain(d, off)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// asciiDomain is the fast path for an all-ASCII domain: it allocates only
// when the domain has upper case or A-labels.
func (p Policy) asciiDomain(d string, off int) (domain, *Error) {
	upper, xn := false, false
	nlabels, start := 0, 0
	for i := 0; i <= len(d); i++ {
		if i < len(d) && d[i] != '.' {
			continue
		}
		l := d[start:i]
		u, x, e := ldhLabel(l, off+start)
		if e != nil {
			return domain{}, e
		}
		upper = upper || u
		xn = xn || x
		nlabels++
		start = i + 1
	}
	lower := d
	if upper {
		lower = strings.ToLower(d)
	}
	if !xn {
		tld := lastLabel(lower)
		return p.finishDomain(lower, lower, nlabels, tld, off+len(d)-len(tld), off)
	}
	// Some labels are A-labels: validate them and build the U-label form.
	labels := make([]label, 0, nlabels)
	pos := off
	for l := range strings.SplitSeq(lower, ".") {
		lb := label{pos: pos, u: l, a: l}
		if strings.HasPrefix(l, "xn--") {
			u, e := aLabel(l, pos)
			if e != nil {
				return domain{}, e
			}
			lb.u = u
		}
		labels = append(labels, lb)
		pos += len(l) + 1
	}
	return p.joinLabels(labels, off)
}

// ldhLabel checks an ASCII label: LDH characters, 1 to 63 octets, no
// leading or trailing hyphen (S4a). It reports upper case and whether the
// label has the A-label prefix.
func ldhLabel(l string, pos int) (upper, xn bool, e *Error) {
	if l == "" {
		return false, false, fault(pos, ErrDots, "empty label")
	}
	if len(l) > maxLabel {
		return false, false, fault(pos, ErrLabelTooLong, fmt.Sprintf("%d octets, at most %d", len(l), maxLabel))
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case 'A' <= c && c <= 'Z':
			upper = true
		case c == '-':
			if i == 0 {
				return false, false, fault(pos, ErrHyphen, "label begins with a hyphen")
			}
			if i == len(l)-1 {
				return false, false, fault(pos+i, ErrHyphen, "label ends with a hyphen")
			}
		default:
			return false, false, fault(pos+i, ErrBadChar, fmt.Sprintf("%q is not allowed in a domain", c))
		}
	}
	xn = len(l) >= 4 && l[2] == '-' && l[3] == '-' && (l[0]|0x20) == 'x' && (l[1]|0x20) == 'n'
	return upper, xn, nil
}

// aLabel validates a lower-case label with the xn-- prefix as a real
// A-label (S4b) and returns its U-label.
func aLabel(l string, pos int) (string, *Error) {
	u, err := idna.Punycode.ToUnicode(l)
	if err != nil || u == l {
		return "", fault(pos, ErrIDNA, "not a valid Punycode A-label")
	}
	if isASCII(u) {
		return "", fault(pos, ErrIDNA, "fake A-label: decodes to ASCII")
	}
	if _, detail, err := checkULabel(u); err != nil {
		return "", fault(pos, err, "in the decoded A-label: "+detail)
	}
	if re, err := idna.Punycode.ToASCII(u); err != nil || re != l {
		return "", fault(pos, ErrIDNA, "non-canonical A-label")
	}
	return u, nil
}

// idnDomain handles a domain with non-ASCII characters.
func (p Policy) idnDomain(d string, off int) (domain, *Error) {
	var labels []label
	start := 0
	for i := 0; i <= len(d); {
		r, n := rune('.'), 1
		if i < len(d) {
			r, n = utf8.DecodeRuneInString(d[i:])
		}
		if !isDot(r, p.Verbatim) {
			i += n
			continue
		}
		pos := off + start
		l, e := p.idnLabel(d[start:i], pos)
		if e != nil {
			return domain{}, e
		}
		labels = append(labels, l)
		i += n
		start = i
	}
	return p.joinLabels(labels, off)
}

// isDot reports whether r separates labels: only "." verbatim; also the
// ideographic and fullwidth full stops that UTS #46 maps to "." (P5b).
func isDot(r rune, verbatim bool) bool {
	return r == '.' || !verbatim && (r == 0x3002 || r == 0xFF0E || r == 0xFF61)
}

// idnLabel validates one label of a domain that has non-ASCII characters.
func (p Policy) idnLabel(l string, pos int) (label, *Error) {
	if l == "" {
		return label{}, fault(pos, ErrDots, "empty label")
	}
	orig := l
	if !p.Verbatim && !isASCII(l) {
		m, err := mapper.ToUnicode(l)
		if err != nil {
			return label{}, fault(pos, ErrIDNA, "UTS #46 mapping failed: "+strings.TrimPrefix(err.Error(), "idna: "))
		}
		if strings.ContainsRune(m, '.') {
			return label{}, fault(pos, ErrIDNA, "UTS #46 maps the label to more than one label")
		}
		l = m
	}
	lb, e := checkLabel(l, pos)
	if e != nil && l != orig {
		e.Pos = pos // an offset into the mapped label means nothing in the input
	}
	return lb, e
}

// checkLabel judges a label after any mapping: an LDH label or A-label
// (ASCII), or a U-label.
func checkLabel(l string, pos int) (label, *Error) {
	if isASCII(l) {
		upper, xn, e := ldhLabel(l, pos)
		if e != nil {
			return label{}, e
		}
		if upper {
			l = strings.ToLower(l)
		}
		if !xn {
			return label{pos: pos, u: l, a: l}, nil
		}
		u, e := aLabel(l, pos)
		if e != nil {
			return label{}, e
		}
		return label{pos: pos, u: u, a: l}, nil
	}
	if i, detail, err := checkULabel(l); err != nil {
		return label{}, fault(pos+i, err, detail)
	}
	a, err := idna.Punycode.ToASCII(l)
	if err != nil {
		return label{}, fault(pos, ErrIDNA, "cannot encode the label in Punycode")
	}
	if len(a) > maxLabel {
		return label{}, fault(pos, ErrLabelTooLong, fmt.Sprintf("%d octets in A-label form, at most %d", len(a), maxLabel))
	}
	return label{pos: pos, u: l, a: a}, nil
}

// joinLabels applies the cross-label Bidi Rule (S4d) and builds both forms.
func (p Policy) joinLabels(labels []label, off int) (domain, *Error) {
	rtl := false
	for _, l := range labels {
		if l.u != l.a && isRTL(l.u) {
			rtl = true
			break
		}
	}
	if rtl {
		for _, l := range labels {
			if ok, i := bidiRule(l.u); !ok {
				if l.u != l.a {
					i = 0 // an offset into the decoded A-label means nothing in the input
				}
				return domain{}, fault(l.pos+i, ErrBidi, fmt.Sprintf("label %q breaks the RFC 5893 Bidi Rule", l.u))
			}
		}
	}
	var u, a strings.Builder
	for i, l := range labels {
		if i > 0 {
			u.WriteByte('.')
			a.WriteByte('.')
		}
		u.WriteString(l.u)
		a.WriteString(l.a)
	}
	last := labels[len(labels)-1]
	return p.finishDomain(u.String(), a.String(), len(labels), last.a, last.pos, off)
}

func lastLabel(d string) string {
	return d[strings.LastIndexByte(d, '.')+1:]
}

// finishDomain applies the whole-domain rules: label count (P5d), numeric
// (P5e) and special-use (P5f) TLDs, and the 253-octet limit (S6, P5g).
// tldPos is the input offset of the last label, off that of the domain.
func (p Policy) finishDomain(u, a string, nlabels int, tld string, tldPos, off int) (domain, *Error) {
	if nlabels == 1 && !p.AllowSingleLabel {
		return domain{}, fault(off, ErrSingleLabel, "the domain needs at least two labels")
	}
	if !p.AllowNumericTLD && allDigits(tld) {
		return domain{}, fault(tldPos, ErrNumericTLD, "")
	}
	if !p.AllowSpecialUse && isSpecialUse(tld) {
		return domain{}, fault(tldPos, ErrSpecialUse, "."+tld+" is reserved and never delivers mail")
	}
	if len(a) > maxDomain {
		return domain{}, fault(off, ErrDomainTooLong, fmt.Sprintf("%d octets in A-label form, at most %d", len(a), maxDomain))
	}
	return domain{unicode: u, ascii: a}, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
