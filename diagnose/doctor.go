package diagnose

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/smtpprobe"
)

// Sections of a DoctorReport, in report order.
const (
	SecPort25     = "port25"
	SecIdentity   = "identity"
	SecReputation = "reputation"
	SecEvidence   = "recent_evidence"
)

var doctorSections = []string{SecPort25, SecIdentity, SecReputation, SecEvidence}

// DefaultDoctorProviders are the domains whose MX hosts doctor connects
// to: large, unrelated mail providers that answer port 25 to anyone.
var DefaultDoctorProviders = []string{"gmail.com", "outlook.com", "yahoo.com", "gmx.net"}

// DefaultDoctorControls are the non-SMTP ports doctor tries when no mail
// server answered on port 25: when these answer, the network blocks
// port 25 only.
var DefaultDoctorControls = []string{"smtp.gmail.com:587", "smtp.office365.com:587", "gmail.com:443", "outlook.com:443"}

// An Egress is one way out to the mail servers: a local address, a
// SOCKS5 proxy, or the machine's default route (the zero value), with
// the HELO name and MAIL FROM address it uses. The egress layer
// configures a list of them; doctor checks each.
type Egress struct {
	// Name labels the egress in the report; empty means one made from
	// the fields ("direct", "local 192.0.2.7", "socks5 proxy:1080").
	Name string
	// LocalAddr is the source address to connect from; empty means the
	// system's choice.
	LocalAddr string
	// SOCKS5 is a proxy, "host[:port]" or "socks5://[user:password@]host[:port]"
	// (port 1080 when none is given), as egress.Parse reads it.
	SOCKS5 string
	// HELO and MailFrom are the identity (see smtpprobe.Prober); empty
	// HELO means the machine's host name, empty MailFrom the null sender.
	HELO, MailFrom string
	// PublicIP is the address the mail servers see, for when none states
	// it and it is not the local one (NAT, a proxy).
	PublicIP string
	// Dialer, when set, opens the connections instead of LocalAddr and
	// SOCKS5 (tests, or an egress layer with its own).
	Dialer smtpprobe.Dialer
}

// label names the egress.
func (e *Egress) label() string {
	switch {
	case e.Name != "":
		return e.Name
	case e.SOCKS5 != "":
		u := e.SOCKS5
		if p, err := url.Parse(e.SOCKS5); err == nil && p.Host != "" {
			u = p.Host // never the password
		}
		return "socks5 " + u
	case e.LocalAddr != "":
		return "local " + e.LocalAddr
	}
	return "direct"
}

// dialer builds the egress's dialer: the egress package's, so that
// doctor reaches the mail servers exactly as the verifier does.
func (e *Egress) dialer() (smtpprobe.Dialer, error) {
	if e.Dialer != nil {
		return e.Dialer, nil
	}
	var out egress.Egress
	if e.SOCKS5 != "" {
		s := e.SOCKS5
		if !strings.Contains(s, "://") {
			s = "socks5://" + s
		}
		p, err := egress.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("%w: SOCKS5 proxy %q: %v", ErrDoctorConfig, e.label(), err)
		}
		out.Proxy = p.Proxy
	}
	if e.LocalAddr != "" {
		p, err := egress.Parse(e.LocalAddr)
		if err != nil || !p.Source.IsValid() {
			return nil, fmt.Errorf("%w: local address %q is not an IP address", ErrDoctorConfig, e.LocalAddr)
		}
		out.Source = p.Source
	}
	return &out, nil
}

// An Event is a block or throttle reply that a recent run saw.
type Event struct {
	Time     time.Time `json:"time"`
	Server   string    `json:"server"`             // the mail host
	Provider string    `json:"provider,omitempty"` // "google", ... when known
	Kind     string    `json:"kind"`               // "block", "throttle" or "soft_limit"
	Reply    string    `json:"reply"`              // the server's reply, as sent
}

// RecentEvents returns the block and throttle replies that recent runs
// through the egress (named by its Egress.ID) saw. RecentFromStore makes
// one from the egress layer's health store (the service's, or a CLI state
// file); without one, doctor says that it has no record.
type RecentEvents func(ctx context.Context, egress string) ([]Event, error)

// ErrDoctorConfig is a DoctorConfig that cannot be used.
var ErrDoctorConfig = errors.New("doctor: bad configuration")

// DoctorConfig says what doctor checks. The zero value checks the direct
// egress against DefaultDoctorProviders and DefaultDNSBL, with the
// resolvers of /etc/resolv.conf.
type DoctorConfig struct {
	// DNS are the resolvers to ask ("host:port"); empty means
	// /etc/resolv.conf.
	DNS []string
	// Egresses are checked in turn; empty means the direct one.
	Egresses []Egress
	// Providers are domains whose first MX host is connected to; nil
	// means DefaultDoctorProviders, an empty slice none.
	Providers []string
	// Servers are more mail servers to connect to, "host" or "host:port".
	Servers []string
	// Controls are "host:port" of other services, tried when no mail
	// server answered; nil means DefaultDoctorControls.
	Controls []string
	// Port is the SMTP port; zero means 25.
	Port int
	// DNSBL are the blocklist zones; nil means DefaultDNSBL, an empty
	// slice none. SpamhausDQSKey as in Config.
	DNSBL          []string
	SpamhausDQSKey string
	// Timeout bounds each connection (connect, greeting, EHLO); zero
	// means 10 s.
	Timeout time.Duration
	// AllowPrivate lets mail hosts on private addresses be connected to.
	AllowPrivate bool
	// Recent, when set, gives the recent block and throttle replies.
	Recent RecentEvents
}

// A DoctorReport is every check of every egress, and their summary.
type DoctorReport struct {
	Schema   int          `json:"schema"` // 1
	Egresses []EgressInfo `json:"egresses"`
	Checks   []Check      `json:"checks"`
	Summary  Summary      `json:"summary"`
}

// EgressInfo is what doctor learned of one egress.
type EgressInfo struct {
	Name     string `json:"name"`
	HELO     string `json:"helo"`
	MailFrom string `json:"mail_from"` // "" for the null sender
	// Address is the public address the mail servers see; Source says how
	// doctor knows it: "stated by a server", "configured", "local".
	Address string `json:"address,omitempty"`
	Source  string `json:"address_source,omitempty"`
}

func (r *DoctorReport) add(c Check) { r.Checks = append(r.Checks, c) }

// WriteText prints the report for people, as Report.WriteText does.
func (r *DoctorReport) WriteText(w io.Writer, color bool) {
	fmt.Fprintf(w, "Prober setup: %s\n", paint(color, r.Summary.Result, strings.ToUpper(r.Summary.Result.String())))
	for _, e := range r.Egresses {
		addr := "unknown address"
		if e.Address != "" {
			addr = e.Address + " (" + e.Source + ")"
		}
		from := e.MailFrom
		if from == "" {
			from = "<>"
		}
		fmt.Fprintf(w, "  egress %s: %s, HELO %s, MAIL FROM %s\n", e.Name, addr, e.HELO, from)
	}
	writeChecks(w, r.Checks, r.Summary, color)
}

// Doctor tests the prober's own setup rather than a domain's: whether
// each egress of cfg reaches port 25 of unrelated mail servers, how they
// see it (address, PTR, HELO, MAIL FROM domain and its SPF), whether its
// address is on blocklists, and what recent runs saw. "mailverify doctor"
// and the service's GET /v1/doctor print its report. It connects to
// port 25 for the greeting and EHLO only, then QUIT; no MAIL, no RCPT.
//
// It fails only for a configuration that cannot be used
// (ErrDoctorConfig) or resolvers that cannot; all else, a ctx that ends
// included, is a check in the report.
func Doctor(ctx context.Context, cfg DoctorConfig) (*DoctorReport, error) {
	q, err := newQuerier(cfg.DNS)
	if err != nil {
		return nil, err
	}
	egresses := cfg.Egresses
	if len(egresses) == 0 {
		egresses = []Egress{{}}
	}
	rep := &DoctorReport{Schema: 1, Egresses: []EgressInfo{}, Checks: []Check{}}
	docs := make([]*doctorRun, len(egresses))
	for i := range egresses {
		e := &egresses[i]
		dialer, err := e.dialer()
		if err != nil {
			return nil, err
		}
		if e.PublicIP != "" && net.ParseIP(e.PublicIP) == nil {
			return nil, fmt.Errorf("%w: public address %q is not an IP address", ErrDoctorConfig, e.PublicIP)
		}
		docs[i] = &doctorRun{cfg: &cfg, q: q, egress: e, dialer: dialer, rep: rep,
			info: EgressInfo{Name: e.label(), HELO: defaultHELO(e.HELO), MailFrom: e.MailFrom}}
	}
	targets := resolveTargets(ctx, q, &cfg)
	for _, d := range docs {
		d.port25Checks(ctx, targets)
		d.identityChecks(ctx)
		d.reputationChecks(ctx)
		d.evidenceChecks(ctx)
		rep.Egresses = append(rep.Egresses, d.info)
	}
	rep.Summary = summarize(rep.Checks, doctorSections)
	return rep, nil
}

// doctorRun is the check of one egress in progress.
type doctorRun struct {
	cfg    *DoctorConfig
	q      *querier
	egress *Egress
	dialer smtpprobe.Dialer
	rep    *DoctorReport
	info   EgressInfo
	stated []string // addresses the servers stated, in order

	mu    sync.Mutex // guards local, set by the concurrent connections
	local string     // the local address of a direct connection
}

func (d *doctorRun) add(c Check) {
	c.Egress = d.info.Name
	d.rep.add(c)
}

func (d *doctorRun) timeout() time.Duration {
	if d.cfg.Timeout > 0 {
		return d.cfg.Timeout
	}
	return 10 * time.Second
}
