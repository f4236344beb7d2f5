package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/mailverify/mailverify/mx"
	"github.com/mailverify/mailverify/smtpprobe"
)

// report is what diagnose learns about a domain's mail setup.
type report struct {
	Domain   string       `json:"domain"`
	Status   string       `json:"status"`
	Implicit bool         `json:"implicit_mx"`
	Provider string       `json:"provider,omitempty"`
	Hosts    []hostReport `json:"hosts"`
}

type hostReport struct {
	Name    string         `json:"name"`
	Pref    uint16         `json:"preference"`
	Addrs   []string       `json:"addresses"`
	Refused []string       `json:"refused_addresses,omitempty"`
	Error   string         `json:"error,omitempty"`
	Servers []serverReport `json:"servers,omitempty"`
}

type serverReport struct {
	Address    string     `json:"address"`
	ConnectMS  int64      `json:"connect_ms"`
	Error      string     `json:"error,omitempty"`
	Banner     string     `json:"banner,omitempty"`
	Extensions []string   `json:"extensions,omitempty"`
	TLS        *tlsReport `json:"tls,omitempty"`
	PTR        []string   `json:"ptr,omitempty"`
	FCrDNS     bool       `json:"forward_confirmed_reverse_dns"`
	Postmaster string     `json:"postmaster,omitempty"`
	Reply      string     `json:"postmaster_reply,omitempty"`
	Transcript []string   `json:"transcript,omitempty"`
}

type tlsReport struct {
	Version    string    `json:"version"`
	Cipher     string    `json:"cipher"`
	Names      []string  `json:"certificate_names"`
	NotAfter   time.Time `json:"not_after"`
	ChainValid bool      `json:"chain_valid"`
	ChainError string    `json:"chain_error,omitempty"`
}

// maxDiagHosts bounds the hosts diagnose connects to.
const maxDiagHosts = 5

func diagnose(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c common
	var asJSON bool
	fs := flag.NewFlagSet("mailverify diagnose", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.register(fs)
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitConfig
	}
	if fs.NArg() != 1 {
		return usageError(stderr, "diagnose takes one DOMAIN")
	}
	dialer, err := c.dialer()
	if err != nil {
		return usageError(stderr, "%v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	dnsr := &mx.DNS{}
	if c.dns != "" {
		dnsr.Servers = []string{c.dns}
	}
	client := &mx.Client{Resolver: dnsr, AllowPrivate: c.allowPrivate}
	mr, err := client.Lookup(ctx, fs.Arg(0))
	if err != nil {
		return usageError(stderr, "%v", err)
	}
	rep := report{Domain: mr.Domain, Status: mr.Status.String(), Implicit: mr.Implicit, Provider: string(mr.Provider)}
	if mr.Err != nil {
		rep.Status += ": " + mr.Err.Error()
	}
	for n, h := range mr.Hosts {
		hr := hostReport{Name: h.Name, Pref: h.Pref}
		for _, a := range h.Addrs {
			hr.Addrs = append(hr.Addrs, a.String())
		}
		for _, a := range h.Refused {
			hr.Refused = append(hr.Refused, a.String())
		}
		if h.Err != nil {
			hr.Error = h.Err.Error()
		}
		if n < maxDiagHosts {
			for _, a := range h.Addrs {
				hr.Servers = append(hr.Servers, diagnoseServer(ctx, &c, dialer, dnsr, mr.Domain, h.Name, a.String()))
			}
		}
		rep.Hosts = append(rep.Hosts, hr)
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(rep); err != nil {
			return exitIO
		}
		return exitOK
	}
	printReport(stdout, rep)
	return exitOK
}

func diagnoseServer(ctx context.Context, c *common, dialer smtpprobe.Dialer, dnsr *mx.DNS, domain, host, ip string) (sr serverReport) {
	addr := net.JoinHostPort(ip, strconv.Itoa(c.port))
	sr.Address = addr
	if names, err := dnsr.LookupAddr(ctx, ip); err == nil {
		sr.PTR = names
		for _, n := range names {
			ips, err := dnsr.LookupNetIP(ctx, "ip", n)
			for _, x := range ips {
				if err == nil && x.String() == ip {
					sr.FCrDNS = true
				}
			}
		}
	}
	var tr strings.Builder
	p := &smtpprobe.Prober{Dialer: dialer, HELO: c.helo, MailFrom: c.from, Transcript: &tr, ShowLocalParts: true}
	start := time.Now()
	s, err := p.Open(ctx, host, addr)
	sr.ConnectMS = time.Since(start).Milliseconds()
	defer func() { sr.Transcript = strings.Split(strings.TrimRight(tr.String(), "\n"), "\n") }()
	if err != nil {
		sr.Error = fmt.Sprintf("%s: %v", smtpprobe.OutcomeOf(err), err)
		return sr
	}
	sr.Banner = s.Banner().String()
	for k, v := range s.Extensions() {
		sr.Extensions = append(sr.Extensions, strings.TrimSpace(k+" "+v))
	}
	sortStrings(sr.Extensions)
	if st := s.TLS(); st != nil {
		sr.TLS = tlsInfo(st, host)
	}
	res := s.Probe(ctx, "postmaster@"+domain)[0]
	sr.Postmaster = res.Outcome.String()
	if res.Reply != nil {
		sr.Reply = res.Reply.String()
	}
	s.Close()
	return sr
}

func tlsInfo(st *tls.ConnectionState, host string) *tlsReport {
	t := &tlsReport{Version: tls.VersionName(st.Version), Cipher: tls.CipherSuiteName(st.CipherSuite)}
	if len(st.PeerCertificates) == 0 {
		t.ChainError = "no certificate"
		return t
	}
	leaf := st.PeerCertificates[0]
	t.Names, t.NotAfter = leaf.DNSNames, leaf.NotAfter
	inter := x509.NewCertPool()
	for _, c := range st.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Intermediates: inter}); err != nil {
		t.ChainError = err.Error()
	} else {
		t.ChainValid = true
	}
	return t
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func printReport(w io.Writer, r report) {
	fmt.Fprintf(w, "Domain %s: %s", r.Domain, r.Status)
	if r.Implicit {
		fmt.Fprint(w, " (no MX records: implicit MX on the domain's own addresses)")
	}
	if r.Provider != "" {
		fmt.Fprintf(w, ", provider %s", r.Provider)
	}
	fmt.Fprintln(w)
	for _, h := range r.Hosts {
		fmt.Fprintf(w, "\nMX %d %s  %s\n", h.Pref, h.Name, strings.Join(h.Addrs, " "))
		if len(h.Refused) > 0 {
			fmt.Fprintf(w, "  refused by the SSRF guard: %s\n", strings.Join(h.Refused, " "))
		}
		if h.Error != "" {
			fmt.Fprintf(w, "  error: %s\n", h.Error)
		}
		for _, s := range h.Servers {
			fmt.Fprintf(w, "  server %s (connect %d ms)\n", s.Address, s.ConnectMS)
			fcr := "no"
			if s.FCrDNS {
				fcr = "yes"
			}
			fmt.Fprintf(w, "    PTR: %s  forward-confirmed: %s\n", orNone(strings.Join(s.PTR, " ")), fcr)
			if s.Error != "" {
				fmt.Fprintf(w, "    error: %s\n", s.Error)
				continue
			}
			fmt.Fprintf(w, "    banner: %s\n    extensions: %s\n", s.Banner, strings.Join(s.Extensions, ", "))
			if s.TLS != nil {
				valid := "valid"
				if !s.TLS.ChainValid {
					valid = "NOT valid: " + s.TLS.ChainError
				}
				fmt.Fprintf(w, "    STARTTLS: %s %s, certificate for %s, expires %s, chain %s\n",
					s.TLS.Version, s.TLS.Cipher, strings.Join(s.TLS.Names, " "), s.TLS.NotAfter.Format(time.DateOnly), valid)
			} else {
				fmt.Fprintln(w, "    STARTTLS: not in use")
			}
			fmt.Fprintf(w, "    RCPT postmaster@%s: %s (%s)\n", r.Domain, s.Postmaster, s.Reply)
			fmt.Fprintln(w, "    transcript:")
			for _, l := range s.Transcript {
				fmt.Fprintf(w, "      %s\n", l)
			}
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
