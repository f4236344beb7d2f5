package risk

import "strings"

// trapLocalParts are local parts that reach abuse desks and operators (RFC
// 2142 section 4 and 5) or name themselves as traps. Sending list mail to
// them is what gets a sender reported or blocklisted.
var trapLocalParts = map[string]string{
	"abuse": "RFC 2142", "postmaster": "RFC 5321 4.5.1", "hostmaster": "RFC 2142", "webmaster": "RFC 2142",
	"security": "RFC 2142", "noc": "RFC 2142", "usenet": "RFC 2142", "news": "RFC 2142", "uucp": "RFC 2142",
	"spamtrap": "trap-like", "spam-trap": "trap-like", "spam.trap": "trap-like", "honeypot": "trap-like",
	"honey-pot": "trap-like", "trap": "trap-like", "spam": "trap-like", "nospam": "trap-like",
	"blackhole": "trap-like", "devnull": "trap-like",
}

// TrapLocalPart returns the evidence that local is an abuse-desk or
// trap-like local part, or nil. Case and a +tag are ignored.
func TrapLocalPart(local string) *Evidence {
	l := strings.ToLower(local)
	if i := strings.IndexByte(l, '+'); i > 0 {
		l = l[:i]
	}
	if src, ok := trapLocalParts[l]; ok {
		return &Evidence{Seen: []string{"local part " + l}, Source: src}
	}
	return nil
}
