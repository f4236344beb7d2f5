package mx

import (
	"context"
	"net"
	"strings"

	"github.com/miekg/dns"
)

// A TXTResolver answers TXT questions too; [*DNS] and *net.Resolver do.
type TXTResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// LookupTXT returns the TXT records of name, each one's strings joined.
func (d *DNS) LookupTXT(ctx context.Context, name string) ([]string, error) {
	rrs, _, err := d.query(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range rrs {
		if t, ok := rr.(*dns.TXT); ok {
			out = append(out, strings.Join(t.Txt, ""))
		}
	}
	return out, nil
}

var _ TXTResolver = (*net.Resolver)(nil)

// Gateways are the providers that filter mail for servers behind them:
// their answer at RCPT is theirs, and the mailboxes live elsewhere.
var Gateways = map[Provider]bool{Proofpoint: true, Mimecast: true, Barracuda: true, CiscoSecure: true,
	Hornet: true, Trend: true, Sophos: true}

// spfBackends maps the SPF include domains of mailbox providers to them:
// a domain whose mail passes a gateway still sends through its mailbox
// provider, and says so in its SPF record.
var spfBackends = []struct {
	include  string
	provider Provider
}{
	{"spf.protection.outlook.com", Microsoft365},
	{"_spf.google.com", Google},
	{"zoho.com", Zoho}, {"zoho.eu", Zoho}, {"zohomail.com", Zoho},
	{"spf.messagingengine.com", Fastmail},
	{"_spf.mx.cloudflare.net", Cloudflare},
	{"emailsrvr.com", Rackspace},
	{"secureserver.net", GoDaddy},
	{"_spf.protonmail.ch", Proton},
	{"_spf.yandex.net", Yandex},
	{"spf.titan.email", Titan},
	{"amazonses.com", Amazon},
}

// BackendFromSPF returns the mailbox provider a domain's SPF record
// includes, or "" when it names none that is known.
func BackendFromSPF(txts []string) Provider {
	for _, t := range txts {
		if !strings.HasPrefix(strings.ToLower(t), "v=spf1 ") {
			continue
		}
		for _, term := range strings.Fields(strings.ToLower(t)) {
			inc, ok := strings.CutPrefix(strings.TrimLeft(term, "+"), "include:")
			if !ok {
				continue
			}
			for _, b := range spfBackends {
				if inc == b.include || strings.HasSuffix(inc, "."+b.include) {
					return b.provider
				}
			}
		}
	}
	return ""
}
