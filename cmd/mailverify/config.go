package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/mailverify/mailverify/cmd/mailverify/internal/historydb"
	"github.com/mailverify/mailverify/cmd/mailverify/internal/rdap"
	"github.com/mailverify/mailverify/mx"
	"github.com/mailverify/mailverify/risk"
	"github.com/mailverify/mailverify/smtpprobe"
	"github.com/mailverify/mailverify/syntax"
	"github.com/mailverify/mailverify/verify"
	"golang.org/x/net/proxy"
)

// common are the flags shared by check and diagnose.
type common struct {
	helo, from, dns, socks5 string
	history, rdapBase       string
	parkingFile             string
	dbl, dnsbl              string
	historyDB               *historydb.DB // opened once, shared by the verifiers
	canary                  string
	port                    int
	allowPrivate            bool
	timeout                 time.Duration
	greyDelay, greyMax      time.Duration
	tls                     string
	specialUse, riskDNS     bool
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.helo, "helo", "", "HELO/EHLO `name`; use one whose A record and PTR match this machine's IP (default: the host name)")
	fs.StringVar(&c.from, "from", "", "MAIL FROM `address` (default: the null sender <>)")
	fs.IntVar(&c.port, "port", 25, "SMTP `port` of the mail servers")
	fs.StringVar(&c.dns, "dns", "", "ask this DNS server, `host[:port]`, instead of /etc/resolv.conf")
	fs.BoolVar(&c.allowPrivate, "allow-private", false, "permit mail hosts on loopback and private addresses")
	fs.DurationVar(&c.timeout, "timeout", time.Minute, "time budget per address, greylisting retries included")
	fs.StringVar(&c.socks5, "socks5", "", "connect to mail servers through this SOCKS5 proxy, `host:port`")
	fs.StringVar(&c.tls, "starttls", "opportunistic", "STARTTLS policy: opportunistic, never or required")
	fs.BoolVar(&c.specialUse, "allow-special-use", false, "accept special-use domains such as .test (for test setups)")
	fs.StringVar(&c.canary, "dns-canary", "", "a `domain` that surely has MX records, asked before believing an NXDOMAIN (default gmail.com; - turns the check off)")
	fs.DurationVar(&c.greyDelay, "greylist-delay", time.Minute, "first wait before retrying a greylisted address when the server states none")
	fs.DurationVar(&c.greyMax, "greylist-max-wait", 6*time.Minute, "longest wait for greylisting to pass, within --timeout")
	fs.StringVar(&c.history, "history", "", "a history `file` of bounces and deliveries (see mailverify feedback) that decides what probing cannot")
	fs.StringVar(&c.parkingFile, "parking", "", "a parking-services table `file` in the format of risk/parking.txt, instead of the embedded one")
	fs.StringVar(&c.dbl, "dbl", "", "domain blocklist `zones` to ask about each domain, comma-separated (you accept their usage terms)")
	fs.StringVar(&c.dnsbl, "dnsbl", "", "address blocklist `zones` to ask about each mail server, comma-separated (you accept their usage terms)")
	fs.StringVar(&c.rdapBase, "rdap", "", "an RDAP service `URL` (such as https://rdap.org) to flag domains registered in the last 30 days")
	fs.BoolVar(&c.riskDNS, "risk-dns", true, "ask each domain's name servers and addresses to flag parked domains (two DNS questions per domain)")
}

// resolver is one stub resolver for every question of the run, whose
// counts the run's summary gives (dnsSummary); without --dns it reads
// /etc/resolv.conf.
func (c *common) resolver() mx.Resolver {
	if c.dns == "" {
		return &mx.DNS{}
	}
	return &mx.DNS{Servers: []string{c.dns}}
}

func (c *common) dialer() (smtpprobe.Dialer, error) {
	if c.socks5 == "" {
		return nil, nil
	}
	if _, _, err := net.SplitHostPort(c.socks5); err != nil {
		return nil, fmt.Errorf("--socks5 %q: %v", c.socks5, err)
	}
	d, err := proxy.SOCKS5("tcp", c.socks5, nil, proxy.Direct)
	if err != nil {
		return nil, err
	}
	cd, ok := d.(proxy.ContextDialer)
	if !ok {
		return nil, errors.New("the SOCKS5 dialer cannot take a context")
	}
	return cd, nil
}

func (c *common) tlsPolicy() (smtpprobe.TLSPolicy, error) {
	switch c.tls {
	case "opportunistic", "":
		return smtpprobe.TLSOpportunistic, nil
	case "never":
		return smtpprobe.TLSNever, nil
	case "required":
		return smtpprobe.TLSRequired, nil
	}
	return 0, fmt.Errorf("--starttls %q: want opportunistic, never or required", c.tls)
}

func (c *common) policy() *syntax.Policy {
	p := syntax.Default
	p.AllowSpecialUse = c.specialUse
	return &p
}

// verifier builds the Verifier the flags describe.
func (c *common) verifier() (*verify.Verifier, error) {
	if c.port <= 0 || c.port > 65535 {
		return nil, fmt.Errorf("--port %d: out of range", c.port)
	}
	d, err := c.dialer()
	if err != nil {
		return nil, err
	}
	tlsp, err := c.tlsPolicy()
	if err != nil {
		return nil, err
	}
	v := &verify.Verifier{
		Syntax: c.policy(), Resolver: c.resolver(), Dialer: d, HELO: c.helo, MailFrom: c.from,
		Port: c.port, AllowPrivate: c.allowPrivate, Timeout: c.timeout, TLS: tlsp,
		ResolverCanary: c.canary, GreylistDelay: c.greyDelay, GreylistMaxWait: c.greyMax, RiskDNS: c.riskDNS,
	}
	v.BlocklistZones, v.IPBlocklistZones = zones(c.dbl), zones(c.dnsbl)
	if c.parkingFile != "" {
		f, err := os.Open(c.parkingFile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if v.Parking, err = risk.ParseParking(f); err != nil {
			return nil, fmt.Errorf("--parking %s: %v", c.parkingFile, err)
		}
	}
	if c.rdapBase != "" {
		v.Registrations = &rdap.Client{Base: c.rdapBase}
	}
	if c.history != "" {
		if c.historyDB == nil {
			db, err := historydb.Open(c.history)
			if err != nil {
				return nil, fmt.Errorf("--history %s: %v", c.history, err)
			}
			c.historyDB = db // open for the life of the process
		}
		v.History = c.historyDB
	}
	if err := v.Validate(); err != nil {
		return nil, err
	}
	return v, nil
}

// zones splits a comma-separated list of DNS zones.
func zones(s string) []string {
	var out []string
	for _, z := range strings.Split(s, ",") {
		if z = strings.Trim(strings.TrimSpace(z), "."); z != "" {
			out = append(out, z)
		}
	}
	return out
}

func usageError(stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, "mailverify: "+format+"\n", args...)
	return exitConfig
}
