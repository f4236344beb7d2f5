package verify

import (
	"context"
	"net"
	"strings"
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
	for _, h := range r.Hosts {
		if len(h.Addrs) > 0 {
			return net.JoinHostPort(h.Addrs[0].String(), v.port()), h.Name
		}
	}
	return "", ""
}
