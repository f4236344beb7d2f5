package syntax

// ParseDomain validates s as the domain of an address under p, by the same
// rules Parse applies after the "@", and returns it in lower-case U-label
// and A-label forms. Address literals are accepted only with AllowLiteral.
// The error is an *Error whose Pos is an offset in s.
func (p Policy) ParseDomain(s string) (unicode, ascii string, err error) {
	if len(s) > maxInput || p.Verbatim && len(s) > maxDomain+2 {
		return "", "", &Error{Input: s, Err: ErrDomainTooLong}
	}
	if _, e := p.screen(s); e != nil {
		e.Input = s
		return "", "", e
	}
	d, e := p.parseDomain(s, 0)
	if e != nil {
		e.Input = s
		return "", "", e
	}
	return d.unicode, d.ascii, nil
}
