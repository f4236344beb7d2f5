package syntax

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// A case is one row of SYNTAX.md judged under both predefined policies.
// A nil error means valid (Strict) or accept (Default). norm is the
// Default normalized form when it differs from the input.
type parseCase struct {
	name   string
	in     string
	strict error
	def    error
	norm   string
}

var rep = strings.Repeat

// labels returns n labels of width w joined by dots, ending in ".com":
// a domain of n*(w+1)+3 octets.
func labels(n, w int) string {
	return rep(rep("a", w)+".", n) + "com"
}

// domainOfLen returns an ASCII domain of exactly n octets (n >= 5).
func domainOfLen(n int) string {
	var b strings.Builder
	for b.Len()+64 < n-4 {
		b.WriteString(rep("d", 62) + ".")
	}
	b.WriteString(rep("d", n-4-b.Len()))
	b.WriteString(".com")
	return b.String()
}

// idnDomainOfALen returns a domain whose A-label form has exactly n octets
// and whose U-label form is shorter: labels "ü" (A-label xn--tda) followed
// by an ASCII filler label and ".de".
func idnDomainOfALen(n int) string {
	var b strings.Builder
	a := 0
	for a+8+64+3 < n {
		b.WriteString("ü.")
		a += len("xn--tda.")
	}
	fill := n - a - len(".de")
	for fill > 63 {
		b.WriteString(rep("f", 62) + ".")
		fill -= 63
	}
	b.WriteString(rep("f", fill) + ".de")
	return b.String()
}

var parseCases = []parseCase{
	// S1 / P1: encoding.
	{"latin1 byte", "caf\xe9@example.com", ErrEncoding, ErrEncoding, ""},
	{"overlong dot", "a\xc0\xae@example.com", ErrEncoding, ErrEncoding, ""},
	{"encoded surrogate", "a\xed\xa0\x80@example.com", ErrEncoding, ErrEncoding, ""},
	{"above U+10FFFF", "a\xf4\x90\x80\x80@example.com", ErrEncoding, ErrEncoding, ""},
	{"stray continuation", "a\x80@example.com", ErrEncoding, ErrEncoding, ""},
	{"truncated sequence", "a@example.co\xc3", ErrEncoding, ErrEncoding, ""},

	// S2 / P2 / P3: shape.
	{"plain", "john.doe@example.com", nil, nil, ""},
	{"leading space", " a@example.com", ErrBadChar, ErrBadChar, ""},
	{"trailing space", "a@example.com ", ErrBadChar, ErrBadChar, ""},
	{"display name", "John <a@example.com>", ErrBadChar, ErrBadChar, ""},
	{"angle brackets", "<a@example.com>", ErrBadChar, ErrBadChar, ""},
	{"comment", "a(comment)@example.com", ErrBadChar, ErrBadChar, ""},
	{"source route", "@a,@b:user@example.com", ErrManyAt, ErrManyAt, ""},
	{"two ats", "a@b@example.com", ErrManyAt, ErrManyAt, ""},
	{"no at", "example.com", ErrNoAt, ErrNoAt, ""},
	{"empty", "", ErrNoAt, ErrNoAt, ""},
	{"empty local", "@example.com", ErrEmptyLocal, ErrEmptyLocal, ""},
	{"empty domain", "a@", ErrEmptyDomain, ErrEmptyDomain, ""},
	{"fullwidth at", "a＠example.com", ErrNoAt, ErrNoAt, ""},

	// Control characters and injection: never accepted.
	{"CRLF injection", "a@example.com\r\nRCPT TO:<b@example.com>", ErrControl, ErrControl, ""},
	{"NUL in local", "a\x00@example.com", ErrControl, ErrControl, ""},
	{"LF in local", "a\n@example.com", ErrControl, ErrControl, ""},
	{"NUL in domain", "a@exa\x00mple.com", ErrControl, ErrControl, ""},
	{"TAB", "a\t@example.com", ErrControl, ErrControl, ""},
	{"DEL", "a\x7f@example.com", ErrControl, ErrControl, ""},
	{"C1 in domain", "a@example.com\u0085", ErrIDNA, ErrControl, ""},
	{"closing bracket", "a@example.com>", ErrBadChar, ErrBadChar, ""},

	// S3 / P4: dot-atom local parts.
	{"all atext", "!#$%&'*+-/=?^_`{|}~@example.com", nil, nil, ""},
	{"percent hack", "user%other@example.com", nil, nil, ""},
	{"leading dot", ".a@example.com", ErrDots, ErrDots, ""},
	{"trailing dot", "a.@example.com", ErrDots, ErrDots, ""},
	{"double dot", "a..b@example.com", ErrDots, ErrDots, ""},
	{"lone dot", ".@example.com", ErrDots, ErrDots, ""},
	{"quote inside atom", "a\"b@example.com", ErrBadChar, ErrBadChar, ""},
	{"comma", "a,b@example.com", ErrBadChar, ErrBadChar, ""},
	{"semicolon", "a;b@example.com", ErrBadChar, ErrBadChar, ""},
	{"brackets in local", "a[b]@example.com", ErrBadChar, ErrBadChar, ""},
	{"backslash unquoted", "a\\b@example.com", ErrBadChar, ErrBadChar, ""},
	{"colon", "a:b@example.com", ErrBadChar, ErrBadChar, ""},
	{"utf8 local", "用户@example.com", nil, nil, ""},
	{"utf8 local german", "jörg@example.com", nil, nil, ""},
	{"NFD local", "e\u0301@example.com", nil, nil, "\u00e9@example.com"},
	{"C1 control local", "a\u0085@example.com", nil, ErrControl, ""},
	{"NBSP local", "a\u00a0b@example.com", nil, ErrBadChar, ""},
	{"ideographic space", "a\u3000b@example.com", nil, ErrBadChar, ""},
	{"line separator", "a\u2028b@example.com", nil, ErrBadChar, ""},
	{"bidi override", "a\u202eb@example.com", nil, ErrBadChar, ""},
	{"ZWSP", "a\u200bb@example.com", nil, ErrBadChar, ""},
	{"soft hyphen", "a\u00adb@example.com", nil, ErrBadChar, ""},
	{"BOM", "\ufeffa@example.com", nil, ErrBadChar, ""},
	{"tag character", "a\U000E0041@example.com", nil, ErrBadChar, ""},
	{"noncharacter", "a\ufdd0@example.com", nil, ErrBadChar, ""},
	{"unassigned U+0378", "a\u0378@example.com", nil, ErrBadChar, ""},
	{"private use", "a\ue000@example.com", nil, ErrBadChar, ""},
	{"CGJ", "a\u034fb@example.com", nil, ErrBadChar, ""},
	{"variation selector", "a\ufe0f@example.com", nil, ErrBadChar, ""},
	{"emoji local", "\U0001F600@example.com", nil, ErrBadChar, ""},
	{"symbol local", "a\u2603@example.com", nil, ErrBadChar, ""},
	{"curly apostrophe", "o\u2019neil@example.com", nil, ErrBadChar, ""},
	{"em dash", "a\u2014b@example.com", nil, ErrBadChar, ""},
	{"fullwidth dot local", "a\uff0eb@example.com", nil, ErrBadChar, ""},
	{"titlecase letter", "\u01c5@example.com", nil, ErrBadChar, ""},
	{"fullwidth letter", "\uff46@example.com", nil, ErrBadChar, ""},
	{"math alphanumeric", "\U0001D400@example.com", nil, ErrBadChar, ""},
	{"ligature", "\ufb01@example.com", nil, ErrBadChar, ""},
	{"micro sign", "\u00b5@example.com", nil, ErrBadChar, ""},
	{"ordinal indicator", "\u00aa@example.com", nil, ErrBadChar, ""},
	{"circled digit", "\u2460@example.com", nil, ErrBadChar, ""},
	{"NFC to semicolon", "a\u037e@example.com", nil, ErrBadChar, ""},
	{"NFC to grave accent", "a\u1fef@example.com", nil, nil, "a`@example.com"},
	{"NFC kelvin sign", "\u212a@example.com", nil, nil, "K@example.com"},
	{"leading combining mark", "\u0301a@example.com", nil, ErrCombiningMark, ""},
	{"combining mark after dot", "a.\u0301b@example.com", nil, ErrCombiningMark, ""},
	{"ZWNJ after virama local", "\u0915\u094d\u200c\u0937@example.com", nil, nil, ""},
	{"ZWNJ persian local", "\u0645\u06cc\u200c\u062e@example.com", nil, nil, ""},
	{"ZWNJ between latin local", "a\u200cb@example.com", nil, ErrBadChar, ""},
	{"ZWJ between latin local", "a\u200db@example.com", nil, ErrBadChar, ""},
	{"middle dot catalan local", "col\u00b7legi@example.com", nil, nil, ""},
	{"middle dot alone local", "a\u00b7b@example.com", nil, ErrBadChar, ""},
	{"mixed-direction local", "a\u05d0@example.com", nil, nil, ""},

	// S3: quoted strings.
	{"quoted with space", "\"john doe\"@example.com", nil, ErrBadChar, ""},
	{"quoted", "\"johndoe\"@example.com", nil, ErrQuoted, ""},
	{"empty quoted", "\"\"@example.com", nil, ErrQuoted, ""},
	{"quoted pair", "\"a\\\"b\"@example.com", nil, ErrQuoted, ""},
	{"quoted backslash pair", "\"a\\\\b\"@example.com", nil, ErrQuoted, ""},
	{"quoted at", "\"a@b\"@example.com", nil, ErrManyAt, ""},
	{"quoted utf8", "\"j\u00f6rg\"@example.com", nil, ErrQuoted, ""},
	{"quoted pair non-ASCII", "\"a\\\u00e9\"@example.com", ErrQuoted, ErrQuoted, ""},
	{"quoted tab", "\"a\tb\"@example.com", ErrControl, ErrControl, ""},
	{"quoted pair tab", "\"a\\\tb\"@example.com", ErrControl, ErrControl, ""},
	{"quoted DEL", "\"a\x7fb\"@example.com", ErrControl, ErrControl, ""},
	{"quoted CR", "\"a\rb\"@example.com", ErrControl, ErrControl, ""},
	{"obs local quoted atoms", "\"a\".\"b\"@example.com", ErrQuoted, ErrQuoted, ""},
	{"obs local mixed", "a.\"b\"@example.com", ErrBadChar, ErrBadChar, ""},
	{"unterminated quote", "\"abc@example.com", ErrQuoted, ErrQuoted, ""},
	{"quote then text", "\"a\"b@example.com", ErrQuoted, ErrQuoted, ""},

	// S4 / P5: domains.
	{"upper case domain", "a@Example.COM", nil, nil, "a@example.com"},
	{"leading hyphen", "a@-example.com", ErrHyphen, ErrHyphen, ""},
	{"trailing hyphen", "a@example-.com", ErrHyphen, ErrHyphen, ""},
	{"R-LDH label", "a@ex--ample.com", nil, nil, ""},
	{"R-LDH googlevideo", "a@r3---sn-abcd.googlevideo.com", nil, nil, ""},
	{"underscore", "a@exa_mple.com", ErrBadChar, ErrBadChar, ""},
	{"trailing root dot", "a@example.com.", ErrDots, ErrDots, ""},
	{"leading dot domain", "a@.example.com", ErrDots, ErrDots, ""},
	{"empty label", "a@example..com", ErrDots, ErrDots, ""},
	{"A-label", "a@xn--bcher-kva.de", nil, nil, "a@b\u00fccher.de"},
	{"A-label upper", "a@XN--BCHER-KVA.de", nil, nil, "a@b\u00fccher.de"},
	{"fake A-label xn--a", "a@xn--a.com", ErrIDNA, ErrIDNA, ""},
	{"fake A-label xn--example", "a@xn--example.com", ErrIDNA, ErrIDNA, ""},
	{"fake A-label xn--zz", "a@xn--zz.com", ErrIDNA, ErrIDNA, ""},
	{"A-label of ASCII", "a@xn--abc-.com", ErrHyphen, ErrHyphen, ""},
	{"A-label of emoji", "a@xn--ls8h.la", ErrIDNA, ErrIDNA, ""},
	{"A-label of upper case", "a@xn--Bcher-kva.de", nil, nil, "a@b\u00fccher.de"},
	{"A-label of DISALLOWED", "a@xn--tda4h.de", ErrIDNA, ErrIDNA, ""},
	{"U-label", "a@b\u00fccher.de", nil, nil, ""},
	{"U-label upper", "a@B\u00dcCHER.de", ErrIDNA, nil, "a@b\u00fccher.de"},
	{"U-label NFD", "a@bu\u0308cher.de", ErrIDNA, nil, "a@b\u00fccher.de"},
	{"fullwidth domain", "a@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com", ErrIDNA, nil, "a@example.com"},
	{"ideographic full stop", "a@example\u3002com", ErrIDNA, nil, "a@example.com"},
	{"fullwidth full stop", "a@example\uff0ecom", ErrIDNA, nil, "a@example.com"},
	{"halfwidth full stop", "a@example\uff61com", ErrIDNA, nil, "a@example.com"},
	{"CJK domain", "\u7528\u6237@\u4f8b\u5b50.\u5e7f\u544a", nil, nil, ""},
	{"sharp s kept", "a@fa\u00df.de", nil, nil, ""},
	{"final sigma kept", "a@\u03b1\u03c2.gr", nil, nil, ""},
	{"emoji domain", "a@\U0001F600.com", ErrIDNA, ErrIDNA, ""},
	{"heart domain", "a@i\u2764.ws", ErrIDNA, ErrIDNA, ""},
	{"snowman domain", "a@\u2603.net", ErrIDNA, ErrIDNA, ""},
	{"parenthesized digit", "a@\u2488.com", ErrIDNA, ErrIDNA, ""},
	{"soft hyphen in domain", "a@exa\u00admple.com", ErrIDNA, ErrBadChar, ""},
	{"ZWSP in domain", "a@exa\u200bmple.com", ErrIDNA, ErrBadChar, ""},
	{"U-label hyphens 3-4", "a@ab--\u00fc.com", ErrHyphen, ErrHyphen, ""},
	{"U-label leading hyphen", "a@-\u00fc.com", ErrHyphen, ErrHyphen, ""},
	{"U-label leading mark", "a@\u0301a.com", ErrCombiningMark, ErrCombiningMark, ""},
	{"tatweel", "a@\u0628\u0640\u0628.com", ErrIDNA, ErrIDNA, ""},

	// CONTEXTJ and CONTEXTO in domains.
	{"ZWNJ after virama", "a@\u0915\u094d\u200c\u0937.com", nil, nil, ""},
	{"ZWJ after virama", "a@\u0915\u094d\u200d\u0937.com", nil, nil, ""},
	{"ZWNJ joining context", "a@\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645.com", nil, nil, ""},
	{"ZWNJ latin", "a@a\u200cb.com", ErrContext, ErrContext, ""},
	{"ZWJ latin", "a@a\u200db.com", ErrContext, ErrContext, ""},
	{"ZWNJ right side not joining", "a@\u0645\u200c.com", ErrContext, ErrContext, ""},
	{"middle dot l.l", "a@l\u00b7l.cat", nil, nil, ""},
	{"middle dot elsewhere", "a@a\u00b7b.cat", ErrContext, ErrContext, ""},
	{"middle dot first", "a@\u00b7l.cat", ErrContext, ErrContext, ""},
	{"keraia before greek", "a@\u0375\u03b1.gr", nil, nil, ""},
	{"keraia at end", "a@\u03b1\u0375.gr", ErrContext, ErrContext, ""},
	{"geresh after hebrew", "a@\u05d0\u05f3.com", nil, nil, ""},
	{"geresh after latin", "a@a\u05f3.com", ErrContext, ErrContext, ""},
	{"gershayim after hebrew", "a@\u05d0\u05f4\u05d1.com", nil, nil, ""},
	{"katakana middle dot", "a@\u30a2\u30fb\u30a4.jp", nil, nil, ""},
	{"katakana middle dot latin", "a@a\u30fbb.jp", ErrContext, ErrContext, ""},
	{"katakana middle dot alone", "a@\u30fb.jp", ErrContext, ErrContext, ""},
	{"arabic-indic digits", "a@\u0628\u0660\u0661.com", nil, nil, ""},
	{"mixed arabic-indic digits", "a@\u0628\u0660\u06f0.com", ErrContext, ErrContext, ""},

	// S4d: the Bidi Rule across every label.
	{"hebrew domain", "a@\u05e9\u05dc\u05d5\u05dd.com", nil, nil, ""},
	{"hebrew A-label", "a@xn--4dbrk0ce.com", nil, nil, "a@\u05d9\u05e9\u05e8\u05d0\u05dc.com"},
	{"digit-first LDH in bidi domain", "a@1a.\u05e9\u05dc\u05d5\u05dd.com", ErrBidi, ErrBidi, ""},
	{"digit-first LDH without bidi", "a@1a.example.com", nil, nil, ""},
	{"LTR label with R", "a@a\u05d0.com", ErrBidi, ErrBidi, ""},
	{"RTL label with L", "a@\u05d0a.com", ErrBidi, ErrBidi, ""},
	{"RTL label EN and AN", "a@\u05d01\u0660.com", ErrBidi, ErrBidi, ""},
	{"RTL label ends in digit", "a@\u05d01.com", nil, nil, ""},
	{"AN first", "a@\u0661\u0662.com", ErrBidi, ErrBidi, ""},

	// S5: address literals.
	{"IPv4 literal", "a@[192.0.2.1]", nil, ErrLiteral, ""},
	{"IPv4 leading zero", "a@[192.0.2.01]", nil, ErrLiteral, ""},
	{"IPv4 octet 256", "a@[192.0.2.256]", ErrLiteral, ErrLiteral, ""},
	{"IPv4 three parts", "a@[192.0.2]", ErrLiteral, ErrLiteral, ""},
	{"IPv4 five parts", "a@[1.2.3.4.5]", ErrLiteral, ErrLiteral, ""},
	{"IPv4 four digits", "a@[0001.2.3.4]", ErrLiteral, ErrLiteral, ""},
	{"IPv6 comp", "a@[IPv6:2001:db8::1]", nil, ErrLiteral, ""},
	{"IPv6 tag case", "a@[ipv6:2001:DB8::1]", nil, ErrLiteral, ""},
	{"IPv6 full", "a@[IPv6:1:2:3:4:5:6:7:8]", nil, ErrLiteral, ""},
	{"IPv6 all zero", "a@[IPv6:::]", nil, ErrLiteral, ""},
	{"IPv6 comp 7 groups", "a@[IPv6:1:2:3:4:5:6::7]", ErrLiteral, ErrLiteral, ""},
	{"IPv6 comp 6 groups", "a@[IPv6:1:2:3::4:5:6]", nil, ErrLiteral, ""},
	{"IPv6 9 groups", "a@[IPv6:1:2:3:4:5:6:7:8:9]", ErrLiteral, ErrLiteral, ""},
	{"IPv6 7 groups", "a@[IPv6:1:2:3:4:5:6:7]", ErrLiteral, ErrLiteral, ""},
	{"IPv6v4 full", "a@[IPv6:1:2:3:4:5:6:192.0.2.1]", nil, ErrLiteral, ""},
	{"IPv6v4 comp", "a@[IPv6:1:2:3:4::192.0.2.1]", nil, ErrLiteral, ""},
	{"IPv6v4 comp 5 groups", "a@[IPv6:1:2:3:4:5::192.0.2.1]", ErrLiteral, ErrLiteral, ""},
	{"IPv6v4 mapped", "a@[IPv6:::ffff:192.0.2.1]", nil, ErrLiteral, ""},
	{"IPv6 two double colons", "a@[IPv6:1::2::3]", ErrLiteral, ErrLiteral, ""},
	{"IPv6 triple colon", "a@[IPv6:1:::2]", ErrLiteral, ErrLiteral, ""},
	{"IPv6 five hex digits", "a@[IPv6:12345::1]", ErrLiteral, ErrLiteral, ""},
	{"IPv6 zone", "a@[IPv6:fe80::1%eth0]", ErrLiteral, ErrLiteral, ""},
	{"IPv6 without tag", "a@[2001:db8::1]", ErrLiteral, ErrLiteral, ""},
	{"IPv4 tag", "a@[IPv4:192.0.2.1]", ErrLiteral, ErrLiteral, ""},
	{"general literal", "a@[foo:bar]", ErrLiteral, ErrLiteral, ""},
	{"host in brackets", "a@[example.com]", ErrLiteral, ErrLiteral, ""},
	{"space in literal", "a@[ 192.0.2.1]", ErrLiteral, ErrBadChar, ""},
	{"unterminated literal", "a@[192.0.2.1", ErrLiteral, ErrLiteral, ""},
	{"text after literal", "a@[192.0.2.1]x", ErrLiteral, ErrLiteral, ""},
	{"empty literal", "a@[]", ErrLiteral, ErrLiteral, ""},

	// P5d-f: label count, numeric and special-use TLDs.
	{"dotless", "a@intranet", nil, ErrSingleLabel, ""},
	{"localhost", "a@localhost", nil, ErrSingleLabel, ""},
	{"numeric TLD", "a@example.123", nil, ErrNumericTLD, ""},
	{"dotted quad", "a@192.0.2.1", nil, ErrNumericTLD, ""},
	{"alphanumeric TLD", "a@example.a1", nil, nil, ""},
	{"one-letter TLD", "a@example.c", nil, nil, ""},
	{".test", "a@example.test", nil, ErrSpecialUse, ""},
	{".TEST", "a@foo.TEST", nil, ErrSpecialUse, ""},
	{".example", "a@foo.example", nil, ErrSpecialUse, ""},
	{".invalid", "a@x.invalid", nil, ErrSpecialUse, ""},
	{".localhost", "a@x.localhost", nil, ErrSpecialUse, ""},
	{".local", "a@printer.local", nil, ErrSpecialUse, ""},
	{".onion", "a@abcdef.onion", nil, ErrSpecialUse, ""},
	{".alt", "a@x.alt", nil, ErrSpecialUse, ""},
	{".internal", "a@corp.internal", nil, ErrSpecialUse, ""},
	{".arpa", "a@1.2.0.192.in-addr.arpa", nil, ErrSpecialUse, ""},
	{"home.arpa", "a@router.home.arpa", nil, ErrSpecialUse, ""},
	{"example.com accepted", "a@example.com", nil, nil, ""},
	{"example.org accepted", "a@mail.example.org", nil, nil, ""},
	{"test as second level", "a@test.com", nil, nil, ""},
	{"test inside", "a@test.example.net", nil, nil, ""},
	{"testing TLD is ordinary", "a@example.testing", nil, nil, ""},

	// S6 / P4g / P5g / P6: sizes.
	{"local 64", rep("a", 64) + "@example.com", nil, nil, ""},
	{"local 65", rep("a", 65) + "@example.com", ErrLocalTooLong, ErrLocalTooLong, ""},
	{"local 64 octets of 2-byte", rep("\u00e9", 32) + "@example.com", nil, nil, ""},
	{"local 66 octets of 2-byte", rep("\u00e9", 33) + "@example.com", ErrLocalTooLong, ErrLocalTooLong, ""},
	{"local 63 octets of 3-byte", rep("\u7528", 21) + "@example.com", nil, nil, ""},
	{"local 66 octets of 3-byte", rep("\u7528", 22) + "@example.com", ErrLocalTooLong, ErrLocalTooLong, ""},
	{"local 64 octets of 4-byte", rep("\U00020000", 16) + "@example.com", nil, nil, ""},
	{"local 68 octets of 4-byte", rep("\U00020000", 17) + "@example.com", ErrLocalTooLong, ErrLocalTooLong, ""},
	{"quoted local 64", "\"" + rep("a", 62) + "\"@example.com", nil, ErrQuoted, ""},
	{"quoted local 65", "\"" + rep("a", 63) + "\"@example.com", ErrLocalTooLong, ErrQuoted, ""},
	{"quoted pairs count", "\"" + rep("\\a", 31) + "\"@example.com", nil, ErrQuoted, ""},
	{"quoted pairs count over", "\"" + rep("\\a", 32) + "\"@example.com", ErrLocalTooLong, ErrQuoted, ""},
	// NFC grows U+0958 (a composition exclusion, 3 octets) to U+0915 U+093C (6 octets).
	{"NFC grows within limit", rep("\u0958", 10) + "@example.com", nil, nil, rep("\u0915\u093c", 10) + "@example.com"},
	{"NFC grows past limit", rep("\u0958", 21) + "@example.com", nil, ErrLocalTooLong, ""},
	// NFC shrinks e + U+0301 (3 octets) to U+00E9 (2 octets).
	{"NFC shrinks into limit", rep("e\u0301", 22) + "@example.com", ErrLocalTooLong, nil, rep("\u00e9", 22) + "@example.com"},
	{"label 63", "a@" + rep("b", 63) + ".com", nil, nil, ""},
	{"label 64", "a@" + rep("b", 64) + ".com", ErrLabelTooLong, ErrLabelTooLong, ""},
	{"U-label 63 in A-label form", "a@" + rep("\u00fc", 1) + rep("b", 55) + ".de", nil, nil, ""},
	{"U-label 64 in A-label form", "a@" + rep("\u00fc", 1) + rep("b", 56) + ".de", ErrLabelTooLong, ErrLabelTooLong, ""},
	{"U-label long in UTF-8, short as A-label", "a@" + rep("\u00fc", 40) + ".de", nil, nil, ""},
	{"total 254", rep("a", 64) + "@" + domainOfLen(189), nil, nil, ""},
	{"total 255", rep("a", 64) + "@" + domainOfLen(190), ErrTooLong, ErrTooLong, ""},
	{"domain 253 A-label", "a@" + idnDomainOfALen(253), nil, ErrTooLong, ""},
	{"domain 254 A-label", "a@" + idnDomainOfALen(254), ErrDomainTooLong, ErrDomainTooLong, ""},
	{"domain 252 A-label", "a@" + idnDomainOfALen(252), nil, nil, ""},
	{"many labels", "a@" + labels(60, 2), nil, nil, ""},
	{"huge input", rep("a", 1<<20) + "@example.com", ErrTooLong, ErrTooLong, ""},
	{"huge domain", "a@" + rep("a.", 1<<16) + "com", ErrTooLong, ErrTooLong, ""},
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, pol := range []struct {
				name string
				p    Policy
				want error
			}{{"Strict", Strict, tc.strict}, {"Default", Default, tc.def}} {
				a, err := pol.p.Parse(tc.in)
				if !errors.Is(err, pol.want) || (err == nil) != (pol.want == nil) {
					t.Fatalf("%s.Parse(%q) error = %v, want %v", pol.name, trim(tc.in), err, pol.want)
				}
				if err != nil {
					checkError(t, tc.in, err)
					if !a.IsZero() {
						t.Errorf("%s.Parse(%q) returned %q with an error", pol.name, trim(tc.in), a)
					}
					continue
				}
				if pol.name == "Default" && tc.norm != "" && a.String() != tc.norm {
					t.Errorf("Default.Parse(%q) = %q, want %q", trim(tc.in), a, tc.norm)
				}
				if hasControl(a.String(), pol.p.Verbatim) || hasControl(a.ASCII(), pol.p.Verbatim) {
					t.Errorf("%s.Parse(%q) kept a control character", pol.name, trim(tc.in))
				}
			}
		})
	}
}

// checkError checks the shape every Parse error has.
func checkError(t *testing.T, in string, err error) {
	t.Helper()
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("error %v is %T, want *syntax.Error", err, err)
	}
	if se.Input != in {
		t.Errorf("Error.Input = %q, want the input %q", trim(se.Input), trim(in))
	}
	if se.Pos < 0 || se.Pos > len(in) {
		t.Errorf("Error.Pos = %d outside the input of %d bytes", se.Pos, len(in))
	}
	if !strings.HasPrefix(se.Error(), "syntax: parse ") {
		t.Errorf("message %q lacks the package prefix", se.Error())
	}
}

func trim(s string) string {
	if len(s) > 90 {
		return s[:90] + "..."
	}
	return s
}

// hasControl reports a C0 control or DEL, and unless asciiOnly a C1
// control too: Strict accepts C1 controls in a local part, as the RFC 6531
// grammar does, but no policy lets CR, LF, NUL or another ASCII control
// through.
func hasControl(s string, asciiOnly bool) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || !asciiOnly && r >= 0x80 && r < 0xa0 {
			return true
		}
	}
	return false
}

func TestErrorPositions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		p    Policy
		want error
		pos  int
	}{
		{"a b@example.com", Default, ErrBadChar, 1},
		{"ab@example.com\r\n", Default, ErrControl, 14},
		{"a..b@example.com", Default, ErrDots, 1},
		{"a@@example.com", Default, ErrManyAt, 2},
		{"abc", Default, ErrNoAt, 3},
		{"a@exa_mple.com", Default, ErrBadChar, 5},
		{"a@example.test", Default, ErrSpecialUse, 10},
		{"a@xn--a.com", Default, ErrIDNA, 2},
		{"a@good.a\u00b7b.cat", Default, ErrContext, 8},
		{"a@" + rep("b", 64) + ".com", Default, ErrLabelTooLong, 2},
		{"a@ok.-bad.com", Strict, ErrHyphen, 5},
		{"\"ab\\\u00e9\"@x.com", Strict, ErrQuoted, 3},
	} {
		_, err := tc.p.Parse(tc.in)
		var se *Error
		if !errors.As(err, &se) || !errors.Is(err, tc.want) || se.Pos != tc.pos {
			t.Errorf("Parse(%q) = %v, want %v at offset %d", tc.in, err, tc.want, tc.pos)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	t.Parallel()
	_, err := Parse("jane..doe@example.com")
	const want = `syntax: parse "jane..doe@example.com": misplaced dot (two dots in a row in the local part) at offset 4`
	if err == nil || err.Error() != want {
		t.Errorf("message = %q, want %q", err, want)
	}
	_, err = Parse(rep("x", 200) + "\n@example.com")
	if err == nil || len(err.Error()) > 200 || !strings.Contains(err.Error(), "...") {
		t.Errorf("long input not shortened in message: %q", err)
	}
}

func TestPolicyKnobs(t *testing.T) {
	t.Parallel()
	testPolicy := Default
	testPolicy.AllowSpecialUse = true
	for _, tc := range []struct {
		name string
		p    Policy
		in   string
		want error
	}{
		{"zero policy rejects UTF-8 local", Policy{}, "j\u00f6rg@example.com", ErrUTF8Local},
		{"zero policy accepts IDN domain", Policy{}, "jorg@b\u00fccher.de", nil},
		{"zero policy accepts ASCII", Policy{}, "jane@example.com", nil},
		{"special use allowed", testPolicy, "jane@mx.example.test", nil},
		{"special use still single-label", testPolicy, "jane@localhost", ErrSingleLabel},
		{"single label allowed", Policy{AllowSingleLabel: true}, "jane@intranet", nil},
		{"numeric TLD allowed", Policy{AllowNumericTLD: true}, "jane@example.123", nil},
		{"literal allowed in practical", Policy{AllowLiteral: true}, "jane@[192.0.2.1]", nil},
		{"quoted allowed in practical", Policy{AllowQuoted: true}, "\"jane\"@example.com", nil},
		{"quoted in practical still screened", Policy{AllowQuoted: true}, "\"ja ne\"@example.com", ErrBadChar},
		{"verbatim without UTF-8 local", Policy{Verbatim: true}, "j\u00f6rg@example.com", ErrUTF8Local},
		{"strict without quoted", Policy{Verbatim: true}, "\"a\"@example.com", ErrQuoted},
	} {
		_, err := tc.p.Parse(tc.in)
		if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
			t.Errorf("%s: Parse(%q) = %v, want %v", tc.name, tc.in, err, tc.want)
		}
	}
}

func TestAddress(t *testing.T) {
	t.Parallel()
	a, err := Parse("Jane.Doe+news@B\u00dcCHER.de")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ what, got, want string }{
		{"String", a.String(), "Jane.Doe+news@b\u00fccher.de"},
		{"ASCII", a.ASCII(), "Jane.Doe+news@xn--bcher-kva.de"},
		{"Local", a.Local(), "Jane.Doe+news"},
		{"Domain", a.Domain(), "b\u00fccher.de"},
		{"DomainASCII", a.DomainASCII(), "xn--bcher-kva.de"},
		{"Unquoted", a.Unquoted(), "Jane.Doe+news"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if a.SMTPUTF8() || a.IsQuoted() || a.IsLiteral() || a.IP().IsValid() || a.IsZero() {
		t.Errorf("flags of %q wrong: smtputf8=%v quoted=%v literal=%v ip=%v zero=%v", a, a.SMTPUTF8(), a.IsQuoted(), a.IsLiteral(), a.IP(), a.IsZero())
	}
	user, detail, ok := a.Subaddress()
	if !ok || user != "Jane.Doe" || detail != "news" {
		t.Errorf("Subaddress = %q, %q, %v", user, detail, ok)
	}
	if b, _ := Parse("jane.doe+news@b\u00fccher.de"); b == a {
		t.Errorf("addresses differing in local-part case compare equal")
	}
	if b, _ := Parse("Jane.Doe+news@xn--bcher-kva.de"); b != a {
		t.Errorf("A-label and U-label spellings parse to different Addresses: %#v vs %#v", b, a)
	}
	text, _ := a.MarshalText()
	if string(text) != a.String() {
		t.Errorf("MarshalText = %q", text)
	}

	u, err := Parse("\u7528\u6237@example.com")
	if err != nil || !u.SMTPUTF8() {
		t.Errorf("UTF-8 local part: err=%v SMTPUTF8=%v", err, u.SMTPUTF8())
	}
	for _, in := range []string{"+tag@example.com", "plain@example.com"} {
		p, _ := Parse(in)
		if user, _, ok := p.Subaddress(); ok || user != p.Local() {
			t.Errorf("Subaddress(%q) = %q, %v; want the whole local part, false", in, user, ok)
		}
	}

	q, err := Strict.Parse("\"john \\\"jd\\\" doe\"@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !q.IsQuoted() || q.Unquoted() != "john \"jd\" doe" || q.Local() != "\"john \\\"jd\\\" doe\"" {
		t.Errorf("quoted: IsQuoted=%v Unquoted=%q Local=%q", q.IsQuoted(), q.Unquoted(), q.Local())
	}
	if _, _, ok := q.Subaddress(); ok {
		t.Error("quoted local part split as a subaddress")
	}

	for in, want := range map[string]string{
		"a@[192.0.2.01]":                "192.0.2.1",
		"a@[ipv6:2001:DB8::1]":          "2001:db8::1",
		"a@[IPv6:1:2:3:4::192.0.2.1]":   "1:2:3:4::c000:201",
		"a@[IPv6:::ffff:192.000.2.1]":   "::ffff:192.0.2.1",
		"a@[IPv6:1:2:3:4:5:6:7:8]":      "1:2:3:4:5:6:7:8",
		"a@[IPv6:1:2:3:4:5:6:10.0.0.1]": "1:2:3:4:5:6:a00:1",
	} {
		l, err := Strict.Parse(in)
		if err != nil {
			t.Errorf("Strict.Parse(%q): %v", in, err)
			continue
		}
		if !l.IsLiteral() || l.IP() != netip.MustParseAddr(want) {
			t.Errorf("Strict.Parse(%q).IP() = %v, literal=%v; want %v", in, l.IP(), l.IsLiteral(), want)
		}
	}
	if l, _ := Strict.Parse("a@[ipv6:2001:db8::1]"); l.Domain() != "[IPv6:2001:db8::1]" {
		t.Errorf("literal tag not normalized: %q", l.Domain())
	}

	var zero Address
	if !zero.IsZero() || zero.String() != "" || zero.Domain() != "" || zero.ASCII() != "" {
		t.Errorf("zero Address is not empty: %#v", zero)
	}
}

// TestParseNormalizedASCIIAllocs pins the fast path: an already normalized
// ASCII address parses without allocating.
func TestParseNormalizedASCIIAllocs(t *testing.T) {
	for _, in := range []string{"john.doe@example.com", "a+b@mail.example.co.uk", "x@ex--ample.org"} {
		if n := testing.AllocsPerRun(100, func() {
			if _, err := Parse(in); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("Parse(%q) allocates %v times, want 0", in, n)
		}
	}
}

func TestUnicodeVersionMatchesGo(t *testing.T) {
	// The tables, Go's unicode package and x/text must agree on the
	// version, or a character could be judged by two different standards.
	if UnicodeVersion != unicodeVersionOfGo() {
		t.Errorf("tables are Unicode %s, Go's unicode package is %s: run go generate ./syntax with matching data", UnicodeVersion, unicodeVersionOfGo())
	}
}

// TestLengthHelpers keeps the boundary rows above honest: the helpers must
// build exactly the lengths the rows claim.
func TestLengthHelpers(t *testing.T) {
	t.Parallel()
	for _, n := range []int{189, 190} {
		if got := len(domainOfLen(n)); got != n {
			t.Errorf("len(domainOfLen(%d)) = %d", n, got)
		}
	}
	for _, n := range []int{252, 253, 254} {
		d := idnDomainOfALen(n)
		a, err := Strict.Parse("a@" + d)
		if n == 254 {
			if !errors.Is(err, ErrDomainTooLong) {
				t.Errorf("idnDomainOfALen(254): %v", err)
			}
			continue
		}
		if err != nil || len(a.DomainASCII()) != n || len(d) >= n {
			t.Errorf("idnDomainOfALen(%d): A-label form %d octets, U-label form %d, err %v", n, len(a.DomainASCII()), len(d), err)
		}
	}
	for n, want := range map[int]int{55: 63, 56: 64} {
		a, err := Strict.Parse("a@\u00fc" + rep("b", n) + ".de")
		got := len(strings.TrimSuffix(a.DomainASCII(), ".de"))
		if err != nil && want == 63 || err == nil && got != want {
			t.Errorf("U-label with %d b's: A-label %d octets (err %v), want %d", n, got, err, want)
		}
	}
}

func TestParseDomain(t *testing.T) {
	t.Parallel()
	p := Policy{AllowSpecialUse: true, AllowSingleLabel: true}
	for _, tc := range []struct {
		in, u, a string
		want     error
	}{
		{"Example.COM", "example.com", "example.com", nil},
		{"B\u00dcCHER.de", "b\u00fccher.de", "xn--bcher-kva.de", nil},
		{"xn--bcher-kva.de", "b\u00fccher.de", "xn--bcher-kva.de", nil},
		{"mx.example.test", "mx.example.test", "mx.example.test", nil},
		{"localhost", "localhost", "localhost", nil},
		{"xn--a.com", "", "", ErrIDNA},
		{"exa mple.com", "", "", ErrBadChar},
		{"example.com\r\n", "", "", ErrControl},
		{"", "", "", ErrEmptyDomain},
		{"a..b", "", "", ErrDots},
		{"[192.0.2.1]", "", "", ErrLiteral},
		{domainOfLen(254), "", "", ErrDomainTooLong},
		{rep("a", 5000), "", "", ErrDomainTooLong},
	} {
		u, a, err := p.ParseDomain(tc.in)
		if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) || u != tc.u || a != tc.a {
			t.Errorf("ParseDomain(%q) = %q, %q, %v; want %q, %q, %v", trim(tc.in), u, a, err, tc.u, tc.a, tc.want)
		}
		if err != nil {
			checkError(t, tc.in, err)
		}
	}
}
