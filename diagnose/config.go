package diagnose

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/mailverify/mailverify/smtpprobe"
	"github.com/mailverify/mailverify/syntax"
	"github.com/miekg/dns"
)

// Config says how to reach the domain's servers. The zero value asks the
// resolvers of /etc/resolv.conf and connects to port 25.
type Config struct {
	// DNS are the resolvers to ask ("host:port"); empty means
	// /etc/resolv.conf. DNSSEC status needs a validating one.
	DNS []string
	// AuthPort is the port the domain's authoritative servers are asked
	// on, for the delegation check; empty means 53.
	AuthPort string
	// Dialer opens SMTP connections; nil means a net.Dialer.
	Dialer smtpprobe.Dialer
	// Port is the SMTP port; zero means 25.
	Port int
	// HELO and MailFrom identify us (see smtpprobe.Prober).
	HELO, MailFrom string
	// AllowPrivate lets MX hosts on private addresses be connected to.
	AllowPrivate bool
	// DNSBL are the blocklist zones to ask about each MX address; nil
	// means DefaultDNSBL, an empty slice none.
	DNSBL []string
	// SpamhausDQSKey, when set, asks zen.spamhaus.org through Spamhaus's
	// Data Query Service (KEY.zen.dq.spamhaus.net); reports never show it.
	SpamhausDQSKey string
	// DKIMSelectors are the selectors to look up (selector._domainkey).
	DKIMSelectors []string
	// HTTP fetches the MTA-STS policy; nil means a client with a 10 s
	// timeout that verifies against Roots.
	HTTP *http.Client
	// Roots verifies certificates; nil means the system roots.
	Roots *x509.CertPool
	// RelayDomain is a domain the servers must not relay for; empty means
	// example.net.
	RelayDomain string
	// MaxHosts bounds the MX hosts connected to; zero means 5.
	MaxHosts int
	// Now is the clock for certificate expiry; nil means time.Now.
	Now func() time.Time
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Config) port() string {
	if c.Port > 0 {
		return fmt.Sprint(c.Port)
	}
	return "25"
}

// ErrDomain is a domain that cannot be diagnosed: not a valid name.
var ErrDomain = errors.New("diagnose: not a valid domain")

// A Checker diagnoses domains with one Config. The zero value asks the
// resolvers of /etc/resolv.conf and connects to port 25. A Checker is safe
// for concurrent use; do not change Config once it is in use.
type Checker struct {
	Config Config
}

// Check diagnoses domain, as Run does with c.Config. It fails only for a
// domain that is not one (ErrDomain) and for resolvers in Config.DNS that
// cannot be used; everything else that goes wrong, a ctx that ends
// included, is a check in the report.
func (c *Checker) Check(ctx context.Context, domain string) (*Report, error) {
	return Run(ctx, domain, c.Config)
}

// Run diagnoses domain. It fails only for a domain that is not one;
// everything else that goes wrong is a check in the report.
func Run(ctx context.Context, domain string, cfg Config) (*Report, error) {
	pol := syntax.Policy{AllowSpecialUse: true}
	_, ascii, err := pol.ParseDomain(strings.TrimSuffix(strings.TrimSpace(domain), "."))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDomain, err)
	}
	q, err := newQuerier(cfg.DNS)
	if err != nil {
		return nil, err
	}
	d := &run{cfg: &cfg, q: q, domain: ascii, rep: &Report{Domain: ascii, Checks: []Check{}}}
	d.dnsChecks(ctx)
	d.authChecks(ctx)
	d.serverChecks(ctx)
	d.mtaSTSChecks(ctx)
	d.blocklistChecks(ctx)
	d.rep.summarize()
	return d.rep, nil
}

// run is one diagnosis in progress.
type run struct {
	cfg    *Config
	q      *querier
	domain string
	rep    *Report
	hosts  []mxHost // from the DNS checks
	signed bool     // the zone validated (AD)
	nullMX bool
}

type mxHost struct {
	name  string
	pref  uint16
	addrs []net.IP
}

// querier asks DNS questions of any type, with the DNSSEC OK bit.
type querier struct {
	servers []string
	udp     *dns.Client
	tcp     *dns.Client
}

func newQuerier(servers []string) (*querier, error) {
	if len(servers) == 0 {
		cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil {
			return nil, fmt.Errorf("diagnose: no resolvers: %w", err)
		}
		for _, s := range cc.Servers {
			servers = append(servers, net.JoinHostPort(s, cc.Port))
		}
	}
	return &querier{servers: servers, udp: &dns.Client{Timeout: 5 * time.Second},
		tcp: &dns.Client{Net: "tcp", Timeout: 5 * time.Second}}, nil
}

// ask sends the question to the resolvers in turn.
func (q *querier) ask(ctx context.Context, name string, t uint16) (*dns.Msg, error) {
	var last error
	for _, s := range q.servers {
		m, err := q.askAt(ctx, s, name, t, true)
		if err == nil {
			return m, nil
		}
		last = err
	}
	return nil, last
}

// askAt asks one server; rd sets recursion desired.
func (q *querier) askAt(ctx context.Context, server, name string, t uint16, rd bool) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), t)
	m.RecursionDesired = rd
	m.SetEdns0(1232, true)
	m.AuthenticatedData = true
	r, _, err := q.udp.ExchangeContext(ctx, m, server)
	if err == nil && r.Truncated {
		r, _, err = q.tcp.ExchangeContext(ctx, m, server)
	}
	return r, err
}

// txt returns the TXT strings at name (each record's strings joined).
func (q *querier) txt(ctx context.Context, name string) ([]string, error) {
	r, err := q.ask(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
		return nil, fmt.Errorf("%s: %s", name, dns.RcodeToString[r.Rcode])
	}
	var out []string
	for _, rr := range r.Answer {
		if t, ok := rr.(*dns.TXT); ok {
			out = append(out, strings.Join(t.Txt, ""))
		}
	}
	return out, nil
}

// addrs returns name's A and AAAA addresses.
func (q *querier) addrs(ctx context.Context, name string) []net.IP {
	var out []net.IP
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		r, err := q.ask(ctx, name, t)
		if err != nil {
			continue
		}
		for _, rr := range r.Answer {
			switch a := rr.(type) {
			case *dns.A:
				out = append(out, a.A)
			case *dns.AAAA:
				out = append(out, a.AAAA)
			}
		}
	}
	return out
}

// withPrefix returns the TXT records that start with prefix (any case).
func withPrefix(txts []string, prefix string) []string {
	var out []string
	for _, t := range txts {
		if len(t) >= len(prefix) && strings.EqualFold(t[:len(prefix)], prefix) {
			out = append(out, t)
		}
	}
	return out
}
