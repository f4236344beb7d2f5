// Package risk holds the signals about an address that its mail server's
// answer does not give: a parked domain, a typo domain that takes mail, a
// trap-like local part, a provider that accepts every recipient by policy.
// Each flag carries what was seen, so that a caller can judge it; none is a
// guess about a mailbox.
package risk

// Risk is the flags of one address; a nil flag was not seen.
type Risk struct {
	// Parked: the domain's DNS points at a parking or domain-marketplace
	// service (Service names it).
	Parked *Evidence `json:"parked,omitempty"`
	// DisposableNetwork: the domain's mail servers are a disposable-mail
	// service's, though the domain is on no disposable list.
	DisposableNetwork *Evidence `json:"disposable_network,omitempty"`
	// Listed: the domain or a mail server address is on a blocklist zone
	// the caller configured (Seen names the zone and its answer).
	Listed *Evidence `json:"listed,omitempty"`
	// NewDomain: the domain was registered (or re-registered) within the
	// last 30 days, by the caller's registration source (RDAP).
	NewDomain *Evidence `json:"new_domain,omitempty"`
	// TypoTrap: the domain is one edit from a major provider's (see
	// package suggest) and its mail server accepted the address.
	TypoTrap *Evidence `json:"typo_trap,omitempty"`
	// TrapLocalPart: the local part is one that spam traps and abuse
	// desks use (abuse, postmaster, spamtrap, ...; RFC 2142).
	TrapLocalPart *Evidence `json:"trap_local_part,omitempty"`
	// AcceptsAllByPolicy: the provider accepts every recipient at RCPT and
	// bounces later (Microsoft 365 without directory-based edge blocking).
	AcceptsAllByPolicy *Evidence `json:"accepts_all_by_policy,omitempty"`
}

// Evidence is what a flag was raised on.
type Evidence struct {
	// Service is who the records belong to, when known ("sedo").
	Service string `json:"service,omitempty"`
	// Seen are the facts, as "NS ns1.sedoparking.com" or "A 91.195.240.7".
	Seen []string `json:"seen,omitempty"`
	// Source is where the table entry that matched comes from.
	Source string `json:"source,omitempty"`
}

// Empty reports whether no flag is set.
func (r *Risk) Empty() bool {
	return r == nil || r.Parked == nil && r.DisposableNetwork == nil && r.Listed == nil && r.NewDomain == nil &&
		r.TypoTrap == nil && r.TrapLocalPart == nil && r.AcceptsAllByPolicy == nil
}
