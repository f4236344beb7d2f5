package verify

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/mailverify/mailverify/mx"
	"github.com/mailverify/mailverify/risk"
)

// A RegistrationSource tells when a domain was registered (RDAP, RFC 9083,
// or the caller's own data); see Verifier.Registrations.
type RegistrationSource interface {
	Registered(ctx context.Context, domain string) (time.Time, error)
}

// newDomainAge is how young a registration is flagged new_domain.
const newDomainAge = 30 * 24 * time.Hour

// domainSignals are the opt-in lookups about a domain that run beside its
// MX lookup: the parking table (RiskDNS), domain blocklists
// (BlocklistZones) and the registration date (Registrations).
type domainSignals struct {
	parked, listed, young *risk.Evidence
	backend               mx.Provider // the SPF record's mailbox provider (RiskDNS)
}

func (v *Verifier) signalsWanted() bool {
	return v.RiskDNS || len(v.BlocklistZones) > 0 || v.Registrations != nil
}

func (v *Verifier) domainSignals(ctx context.Context, domain string) domainSignals {
	var s domainSignals
	done := make(chan struct{})
	go func() {
		defer close(done)
		if v.Registrations != nil {
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if t, err := v.Registrations.Registered(rctx, domain); err == nil && !t.IsZero() && time.Since(t) < newDomainAge {
				s.young = &risk.Evidence{Seen: []string{"registered " + t.UTC().Format(time.RFC3339)}, Source: "registration source"}
			}
		}
	}()
	if v.RiskDNS {
		s.parked = v.parked(ctx, domain)
		s.backend = v.spfBackend(ctx, domain)
	}
	s.listed = v.listed(ctx, v.BlocklistZones, []string{domain})
	<-done
	return s
}

// listed asks each zone about each name (a domain, or an address already
// reversed into its query form) and returns the first listing: an answer
// in 127.0.0.0/8, which is how DNSBL and DBL zones say "listed" (RFC 5782
// section 2.1), except 127.255.255.0/24, where zones such as Spamhaus
// answer that they refused the query (a public resolver, too many
// queries): that says nothing about the name, and is not cached.
func (v *Verifier) listed(ctx context.Context, zones, names []string) *risk.Evidence {
	if len(zones) == 0 {
		return nil
	}
	res := v.Resolver
	if res == nil {
		res = v.defaultDNS
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for _, zone := range zones {
		zone = strings.Trim(strings.ToLower(zone), ".")
		for _, n := range names {
			if a, ok := v.zoneAnswer(ctx, res, n+"."+zone); ok {
				return &risk.Evidence{Service: zone, Seen: []string{fmt.Sprintf("%s.%s answered %s", n, zone, a)}, Source: "caller-configured blocklist zone"}
			}
		}
	}
	return nil
}

// zoneAnswer asks a blocklist zone about a name, caching the answer for
// riskTTL: zones limit their query volumes, and their answers change
// slowly. ok reports a listing (an answer in 127.0.0.0/8).
func (v *Verifier) zoneAnswer(ctx context.Context, res mx.Resolver, qname string) (netip.Addr, bool) {
	now := time.Now()
	v.mu.Lock()
	e, hit := v.zoneCache[qname]
	v.mu.Unlock()
	if hit && now.Before(e.expires) {
		return e.addr, e.addr.IsValid()
	}
	var listed netip.Addr
	addrs, err := res.LookupNetIP(ctx, "ip4", qname)
	if err != nil && ctx.Err() != nil {
		return listed, false // not an answer: do not cache
	}
	for _, a := range addrs {
		if blocklistRefusal(a) {
			return netip.Addr{}, false // not an answer about the name
		}
		if a.Is4() && a.As4()[0] == 127 {
			listed = a
			break
		}
	}
	v.mu.Lock()
	if v.zoneCache == nil || len(v.zoneCache) > 10000 {
		v.zoneCache = map[string]zoneEntry{}
	}
	v.zoneCache[qname] = zoneEntry{listed, now.Add(riskTTL)}
	v.mu.Unlock()
	return listed, listed.IsValid()
}

// blocklistRefusal reports a zone's "query refused" answer, 127.255.255.x.
func blocklistRefusal(a netip.Addr) bool {
	return a.Is4() && netip.MustParsePrefix("127.255.255.0/24").Contains(a)
}

type zoneEntry struct {
	addr    netip.Addr // the listing, or invalid for none
	expires time.Time
}

// reversedIPv4 is an IPv4 address in DNSBL query form: 192.0.2.1 is
// "1.2.0.192". IPv6 addresses are not asked (few zones list them).
func reversedIPv4(a netip.Addr) (string, bool) {
	if !a.Unmap().Is4() {
		return "", false
	}
	b := a.Unmap().As4()
	return fmt.Sprintf("%d.%d.%d.%d", b[3], b[2], b[1], b[0]), true
}

// hostsListed asks the IP zones about the domain's mail server addresses.
func (v *Verifier) hostsListed(ctx context.Context, hosts []mx.Host) *risk.Evidence {
	if len(v.IPBlocklistZones) == 0 {
		return nil
	}
	var names []string
	for _, h := range hosts {
		for _, a := range h.Addrs {
			if n, ok := reversedIPv4(a); ok && !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	return v.listed(ctx, v.IPBlocklistZones, names)
}

// spfBackend reads the domain's SPF record for the mailbox provider behind
// a gateway.
func (v *Verifier) spfBackend(ctx context.Context, domain string) mx.Provider {
	res := v.Resolver
	if res == nil {
		res = v.defaultDNS
	}
	tr, ok := res.(mx.TXTResolver)
	if !ok {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	txts, err := tr.LookupTXT(ctx, domain)
	if err != nil {
		return ""
	}
	return mx.BackendFromSPF(txts)
}
