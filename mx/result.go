package mx

import (
	"fmt"
	"net/netip"
	"time"
)

// Status is the outcome of a lookup: whether the domain has mail servers
// to try, and if not, why not.
type Status int

const (
	// Found: Result.Hosts holds at least one host with a routable address.
	Found Status = iota
	// DomainNotFound: the domain does not exist (NXDOMAIN).
	DomainNotFound
	// NoMailServer: no MX records and no A/AAAA records for an implicit MX;
	// or MX records whose hosts all do not exist.
	NoMailServer
	// NullMX: the domain publishes "MX 0 ." (RFC 7505): it accepts no mail,
	// and there is no fallback to its A/AAAA records.
	NullMX
	// Unroutable: the mail hosts resolve only to loopback, private or
	// reserved addresses, which the SSRF guard refuses (see [Routable]).
	Unroutable
	// Temporary: a DNS failure (SERVFAIL, timeout, refusal) left the answer
	// unknown; Result.Err holds the cause. Never a verdict on the domain.
	Temporary
)

var statusNames = [...]string{"found", "domain_not_found", "no_mail_server", "null_mx", "unroutable", "temporary"}

// String returns the snake_case name used in JSON.
func (s Status) String() string {
	if s >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// MarshalText implements encoding.TextMarshaler with the snake_case name.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// A Host is one mail server of a domain.
type Host struct {
	Name string // host name in A-label form, without the trailing dot
	Pref uint16 // MX preference; 0 for an implicit MX
	// Addrs are the addresses to connect to, IPv6 first, that passed the
	// SSRF guard.
	Addrs []netip.Addr
	// Refused are the addresses the SSRF guard dropped.
	Refused []netip.Addr
	// Err is why the host could not be resolved (a *net.DNSError), or nil.
	Err error
}

// A Result is what a lookup learned about a domain's mail servers. Its
// slices are shared with the cache: do not modify them.
type Result struct {
	Domain string // the domain looked up, in A-label form
	Status Status
	// Hosts are the mail servers in the order to try them: by preference,
	// equal preferences shuffled (RFC 5321 section 5.1). Hosts that did not
	// resolve, or resolved only to refused addresses, are included with Err
	// or Refused set, after the usable ones of their preference.
	Hosts []Host
	// Implicit reports that the domain has no MX records and Hosts is the
	// domain itself, from its A/AAAA records (RFC 5321 section 5.1).
	Implicit bool
	// Provider is identified from the MX host names; "" when unknown.
	Provider Provider
	// Err is the DNS failure behind a Temporary status, or nil.
	Err error
	// TTL is how long the answer may be cached, from the records' TTLs or,
	// for a negative answer, the SOA minimum (RFC 2308).
	TTL time.Duration
}

// Usable returns the hosts that have addresses to connect to.
func (r Result) Usable() []Host {
	var out []Host
	for _, h := range r.Hosts {
		if len(h.Addrs) > 0 {
			out = append(out, h)
		}
	}
	return out
}
