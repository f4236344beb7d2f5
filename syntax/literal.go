package syntax

import (
	"net/netip"
	"strings"
)

// parseLiteral validates an RFC 5321 section 4.1.3 address literal (S5):
// [IPv4] or [IPv6:...]. A General-address-literal is rejected: IANA's
// registry of address-literal tags holds only IPv6.
func parseLiteral(d string, off int) (domain, *Error) {
	if len(d) < 2 || d[len(d)-1] != ']' {
		return domain{}, fault(off, ErrLiteral, "unterminated address literal")
	}
	if _, ok := literalIP(d); !ok {
		in := d[1 : len(d)-1]
		switch {
		case len(in) >= 5 && strings.EqualFold(in[:5], "IPv6:"):
			return domain{}, fault(off+6, ErrLiteral, "not an RFC 5321 IPv6 address")
		case strings.ContainsRune(in, ':'):
			return domain{}, fault(off+1, ErrLiteral, "unknown address-literal tag (only IPv6: is registered)")
		}
		return domain{}, fault(off+1, ErrLiteral, "not an IPv4 address")
	}
	if len(d) > 6 && d[1:6] != "IPv6:" && strings.EqualFold(d[1:6], "IPv6:") {
		d = "[IPv6:" + d[6:]
	}
	return domain{unicode: d, ascii: d, flags: flagLiteral}, nil
}

// literalIP parses a bracketed address literal.
func literalIP(d string) (netip.Addr, bool) {
	in := d[1 : len(d)-1]
	if len(in) >= 5 && strings.EqualFold(in[:5], "IPv6:") {
		return ipv6Literal(in[5:])
	}
	v4, ok := ipv4Literal(in)
	return netip.AddrFrom4(v4), ok
}

// ipv4Literal parses four Snum (1 to 3 digits, at most 255) joined by dots.
// Unlike netip.ParseAddr it accepts leading zeros, as the grammar does.
func ipv4Literal(s string) (ip [4]byte, ok bool) {
	n := 0
	for part := range strings.SplitSeq(s, ".") {
		if n == 4 || len(part) == 0 || len(part) > 3 {
			return ip, false
		}
		v := 0
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return ip, false
			}
			v = v*10 + int(part[i]-'0')
		}
		if v > 255 {
			return ip, false
		}
		ip[n] = byte(v)
		n++
	}
	return ip, n == 4
}

// ipv6Literal parses the IPv6-addr of RFC 5321: IPv6-full, IPv6-comp,
// IPv6v4-full or IPv6v4-comp. "::" stands for at least two zero groups, so
// a compressed form has at most 6 explicit groups (4 before an IPv4 part).
func ipv6Literal(s string) (netip.Addr, bool) {
	full, comp := 8, 6
	var v4 [4]byte
	hasV4 := false
	if i := strings.LastIndexByte(s, ':'); i >= 0 && strings.ContainsRune(s[i+1:], '.') {
		var ok bool
		if v4, ok = ipv4Literal(s[i+1:]); !ok {
			return netip.Addr{}, false
		}
		hasV4 = true
		full, comp = 6, 4
		s = s[:i+1] // keeps the ':' before the IPv4 part
		if !strings.HasSuffix(s, "::") {
			s = s[:i]
		}
	}
	var groups []uint16
	if left, right, ok := strings.Cut(s, "::"); ok {
		l, okl := hexGroups(left)
		r, okr := hexGroups(right)
		if !okl || !okr || len(l)+len(r) > comp {
			return netip.Addr{}, false
		}
		zeros := full - len(l) - len(r)
		groups = append(append(append(groups, l...), make([]uint16, zeros)...), r...)
	} else {
		g, ok := hexGroups(s)
		if !ok || len(g) != full {
			return netip.Addr{}, false
		}
		groups = g
	}
	var b [16]byte
	for i, g := range groups {
		b[2*i], b[2*i+1] = byte(g>>8), byte(g)
	}
	if hasV4 {
		copy(b[12:], v4[:])
	}
	return netip.AddrFrom16(b), true
}

// hexGroups parses "" or 1 to 4 hex digits groups joined by single colons.
func hexGroups(s string) ([]uint16, bool) {
	if s == "" {
		return nil, true
	}
	var out []uint16
	for g := range strings.SplitSeq(s, ":") {
		if len(g) == 0 || len(g) > 4 {
			return nil, false
		}
		var v uint16
		for i := 0; i < len(g); i++ {
			c := g[i]
			switch {
			case '0' <= c && c <= '9':
				v = v<<4 | uint16(c-'0')
			case 'a' <= c|0x20 && c|0x20 <= 'f':
				v = v<<4 | uint16(c|0x20-'a'+10)
			default:
				return nil, false
			}
		}
		out = append(out, v)
	}
	return out, true
}
