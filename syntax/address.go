package syntax

import (
	"net/netip"
	"strings"
)

// An Address is a parsed, normalized email address. The zero Address is
// invalid (see [Address.IsZero]); Parse returns a non-zero one or an error.
//
// Address is a small comparable value: two Addresses parsed under the same
// Policy are == exactly when their normalized forms are equal.
type Address struct {
	addr  string // local + "@" + domain in U-label form
	at    int    // index of the '@' in addr
	ascii string // the domain in A-label form
	flags flags
}

type flags uint8

const (
	flagQuoted flags = 1 << iota
	flagLiteral
	flagUTF8Local
)

// String returns the normalized address: the local part (NFC under the
// Default policy, as given under Strict), "@", and the domain in lower-case
// U-label form. It is the form to display and store.
func (a Address) String() string { return a.addr }

// ASCII returns the address with the domain in A-label ("xn--") form: what a
// client sends to a server that lacks SMTPUTF8. The local part is unchanged,
// so the result is pure ASCII only when [Address.SMTPUTF8] is false.
func (a Address) ASCII() string {
	if a.addr == "" || a.addr[a.at+1:] == a.ascii {
		return a.addr
	}
	return a.addr[:a.at+1] + a.ascii
}

// Local returns the local part. A quoted local part keeps its quotes and
// backslashes (see [Address.Unquoted]).
func (a Address) Local() string { return a.addr[:a.at] }

// Domain returns the domain in lower-case U-label form, or the address
// literal with its brackets.
func (a Address) Domain() string {
	if a.addr == "" {
		return ""
	}
	return a.addr[a.at+1:]
}

// DomainASCII returns the domain in A-label form, or the address literal with
// its brackets. This is the name to look up in DNS.
func (a Address) DomainASCII() string { return a.ascii }

// SMTPUTF8 reports whether the local part contains non-ASCII characters, so
// that delivery needs the SMTPUTF8 extension (RFC 6531). A non-ASCII domain
// alone does not: its A-label form is ASCII.
func (a Address) SMTPUTF8() bool { return a.flags&flagUTF8Local != 0 }

// IsQuoted reports whether the local part is a quoted string. Only a Policy
// with AllowQuoted produces one.
func (a Address) IsQuoted() bool { return a.flags&flagQuoted != 0 }

// IsLiteral reports whether the domain is an address literal such as
// [192.0.2.1] or [IPv6:2001:db8::1]. Only a Policy with AllowLiteral produces
// one.
func (a Address) IsLiteral() bool { return a.flags&flagLiteral != 0 }

// IP returns the address of an address-literal domain, and the zero
// netip.Addr otherwise.
func (a Address) IP() netip.Addr {
	if !a.IsLiteral() {
		return netip.Addr{}
	}
	ip, _ := literalIP(a.ascii)
	return ip
}

// IsZero reports whether a is the zero Address.
func (a Address) IsZero() bool { return a.addr == "" }

// Unquoted returns the local part with the quotes and quoted-pair
// backslashes of a quoted string removed: the mailbox name it denotes. For a
// dot-atom local part it is the same as [Address.Local].
func (a Address) Unquoted() string {
	l := a.Local()
	if !a.IsQuoted() {
		return l
	}
	l = l[1 : len(l)-1]
	if !strings.Contains(l, `\`) {
		return l
	}
	var b strings.Builder
	for i := 0; i < len(l); i++ {
		if l[i] == '\\' && i+1 < len(l) {
			i++
		}
		b.WriteByte(l[i])
	}
	return b.String()
}

// Subaddress splits a dot-atom local part at its first "+" into the user and
// the detail (RFC 5233): "jane+news" gives ("jane", "news", true). It reports
// false, with the whole local part as user, when there is no "+" or the
// local part is quoted. Whether the receiving domain treats "+" this way is
// that domain's choice; the split is a hint, never a normalization.
func (a Address) Subaddress() (user, detail string, ok bool) {
	l := a.Local()
	if a.IsQuoted() {
		return l, "", false
	}
	user, detail, ok = strings.Cut(l, "+")
	if !ok || user == "" {
		return l, "", false
	}
	return user, detail, true
}

// MarshalText implements encoding.TextMarshaler with the normalized form.
func (a Address) MarshalText() ([]byte, error) { return []byte(a.addr), nil }
