package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mailverify/mailverify/diagnose"
	"github.com/mailverify/mailverify/egress"
)

// doctorCmd checks this machine's own setup for probing: port 25, the
// egress's identity, its reputation. Exit status: 0 when no check
// failed, 1 when one did, 2 for a usage error.
func doctorCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mailverify doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var e diagnose.Egress
	fs.StringVar(&e.HELO, "helo", "", "HELO/EHLO `name` the probes use (default: the host name)")
	fs.StringVar(&e.MailFrom, "from", "", "MAIL FROM `address` the probes use (default: the null sender <>)")
	fs.StringVar(&e.SOCKS5, "socks5", "", "probe through this SOCKS5 proxy, `host:port` or socks5://user:password@host:port")
	fs.StringVar(&e.LocalAddr, "local-addr", "", "connect from this local `address`")
	fs.StringVar(&e.PublicIP, "public-ip", "", "the `address` mail servers see, when none states it (NAT, proxy)")
	dnsServer := fs.String("dns", "", "ask this DNS server, `host[:port]`, instead of /etc/resolv.conf")
	port := fs.Int("port", 25, "SMTP `port` of the mail servers")
	providers := fs.String("provider", strings.Join(diagnose.DefaultDoctorProviders, ","), "`domains` whose first MX host to connect to, comma-separated; \"none\" for none")
	servers := fs.String("server", "", "more mail `servers` to connect to, host[:port], comma-separated")
	controls := fs.String("control", strings.Join(diagnose.DefaultDoctorControls, ","), "host:port `list` of other services tried when no mail server answers, comma-separated")
	dnsbl := fs.String("dnsbl", "", "blocklist `zones` to ask about the egress address, comma-separated; \"none\" for none (default: "+strings.Join(diagnose.DefaultDNSBL, ",")+"; you accept their usage terms)")
	dqsKey := fs.String("spamhaus-dqs-key", "", "a Spamhaus Data Query Service `key`: zen.spamhaus.org is asked through DQS")
	timeout := fs.Duration("timeout", 10*time.Second, "time budget per connection")
	allowPrivate := fs.Bool("allow-private", false, "permit mail hosts (and an egress address) on loopback and private addresses")
	asJSON := fs.Bool("json", false, "print the report as JSON (the schema of diagnose.DoctorReport)")
	noColor := fs.Bool("no-color", false, "no colors, even on a terminal")
	var pool egressFlags
	pool.registerPool(fs) // a pool's egresses are checked each, by their names
	state := fs.String("egress-state", "", "report the block, throttle and soft-limit replies that runs kept in this `file` (mailverify --egress-state) for the egress")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mailverify doctor [flags]\n\nChecks this machine's setup for probing before a list is run: outbound port 25 to several mail\nservers, the egress address as they see it, its PTR, the HELO name, the MAIL FROM domain and its SPF,\nand DNS blocklists. It sends EHLO and QUIT only.")
		fs.PrintDefaults()
	}
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return exitConfig
	}
	if len(rest) != 0 {
		return usageError(stderr, "doctor takes no arguments, only flags")
	}
	if *port <= 0 || *port > 65535 {
		return usageError(stderr, "--port %d: out of range", *port)
	}
	cfg := diagnose.DoctorConfig{Egresses: []diagnose.Egress{e}, Providers: zones(*providers), Port: *port,
		SpamhausDQSKey: *dqsKey, Timeout: *timeout, AllowPrivate: *allowPrivate}
	cfg.Servers, cfg.Controls = list(*servers), list(*controls)
	if *providers == "none" {
		cfg.Providers = []string{}
	}
	if *dnsServer != "" {
		cfg.DNS = []string{withPort(*dnsServer)}
	}
	cfg.DNSBL = dnsblFlag(*dnsbl)
	es, err := pool.egresses(e.SOCKS5)
	if err != nil {
		return usageError(stderr, "%v", err)
	}
	if len(es) > 0 {
		cfg.Egresses = doctorEgresses(es, e.HELO, e.MailFrom)
	}
	if *state != "" {
		st, err := readState(*state) // egressstate.go
		if err != nil {
			return usageError(stderr, "%v", err)
		}
		cfg.Recent = diagnose.RecentFromStore(st, stateKeep)
	}
	ctx, cancel := context.WithTimeout(ctx, 6**timeout+time.Minute)
	defer cancel()
	rep, err := diagnose.Doctor(ctx, cfg)
	if errors.Is(err, diagnose.ErrDoctorConfig) {
		return usageError(stderr, "%v", err)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailverify: %v\n", err)
		return exitIO
	}
	return writeReport(stdout, rep, rep.Summary, reportOutput{json: *asJSON, noColor: *noColor})
}

// doctor runs diagnose.Doctor with the service's DNS and its egresses
// (the pool of --egress and --egress-file, else the one dialer and
// identity its verifiers use), with the recent evidence of the cluster's
// egress store.
func (f *serviceFlags) doctor() func(context.Context, diagnose.RecentEvents) (*diagnose.DoctorReport, error) {
	return func(ctx context.Context, recent diagnose.RecentEvents) (*diagnose.DoctorReport, error) {
		cfg := diagnose.DoctorConfig{Port: f.port, AllowPrivate: f.allowPrivate, DNSBL: zones(f.dnsbl), Recent: recent,
			Egresses: []diagnose.Egress{{HELO: f.helo, MailFrom: f.from, SOCKS5: f.socks5}}}
		pool, err := f.eg.egresses(f.socks5)
		if err != nil { // the file changed since serve started, say
			return nil, err
		}
		if len(pool) > 0 {
			cfg.Egresses = doctorEgresses(pool, f.helo, f.from)
		}
		if f.dnsbl == "" {
			cfg.DNSBL = nil // the defaults
		}
		if f.dns != "" {
			cfg.DNS = []string{withPort(f.dns)}
		}
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		return diagnose.Doctor(ctx, cfg)
	}
}

// list splits a comma-separated list; empty means an empty, non-nil one.
func list(s string) []string {
	out := []string{}
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// doctorEgresses turns a pool into doctor's egresses, named by their IDs
// (the names the egress store keeps their records under).
func doctorEgresses(pool []egress.Egress, helo, from string) []diagnose.Egress {
	out := make([]diagnose.Egress, len(pool))
	for i, e := range pool {
		e = e.WithDefaults(helo, from)
		out[i] = diagnose.Egress{Name: e.ID(), HELO: e.HELO, MailFrom: e.MailFrom}
		if e.Source.IsValid() {
			out[i].LocalAddr = e.Source.String()
		}
		if e.Proxy != nil {
			out[i].SOCKS5 = e.Proxy.String()
		}
	}
	return out
}
