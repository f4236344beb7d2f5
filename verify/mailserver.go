package verify

import (
	"context"
	"net"
	"strings"

	"github.com/mailverify/mailverify/mx"
)

// MailServer returns the politeness key of address: the host:port of the
// first mail server a verification of it connects to, which is what
// VerifySeq groups sessions and per-host limits by. It uses the Verifier's
// DNS cache, so the verification that follows costs no second lookup.
//
// It returns "" when no mail server would be asked: the syntax is invalid,
// the address is a literal, the Verifier is Offline, or DNS gave no usable
// host (those addresses need no server's politeness). A program that
// spreads addresses over several processes partitions by it, so that one
// process owns each server and its limits hold across all of them.
func (v *Verifier) MailServer(ctx context.Context, address string) string {
	server, _ := v.MailServerHost(ctx, address)
	return server
}

// MailServerHost is MailServer with the MX host name that server is an
// address of, from the same lookup (mx.ProviderOf of it names the
// server's provider); both are "" when MailServer's is.
//
// The answer is one per domain: the lookup shuffles hosts of equal
// preference on every call, so among the most-preferred hosts with
// addresses it takes a host of an identified provider first, then the
// least name (see canonicalHost). A domain whose equal-preference MX hosts
// are a provider's and another's is keyed by the provider's, every time.
func (v *Verifier) MailServerHost(ctx context.Context, address string) (server, host string) {
	a, err := v.policy().Parse(strings.TrimSpace(address))
	if err != nil || a.IsLiteral() || v.Offline {
		return "", ""
	}
	v.init()
	r, err := v.mxc.Lookup(ctx, a.DomainASCII())
	if err != nil {
		return "", ""
	}
	h := canonicalHost(r.Hosts)
	if h == nil {
		return "", ""
	}
	return net.JoinHostPort(h.Addrs[0].String(), v.port()), h.Name
}

// canonicalHost picks, among the most-preferred hosts with addresses
// (hosts come sorted by preference), one that does not depend on the
// lookup's shuffle: a host whose provider mx.ProviderOf identifies
// before one it does not, then the least name. nil when no host has an
// address.
func canonicalHost(hosts []mx.Host) *mx.Host {
	var best *mx.Host
	for i := range hosts {
		h := &hosts[i]
		if len(h.Addrs) == 0 {
			continue
		}
		if best != nil && h.Pref != best.Pref {
			break
		}
		if best == nil || hostBefore(h, best) {
			best = h
		}
	}
	return best
}

func hostBefore(a, b *mx.Host) bool {
	pa, pb := mx.ProviderOf(a.Name) != "", mx.ProviderOf(b.Name) != ""
	if pa != pb {
		return pa
	}
	return a.Name < b.Name
}
