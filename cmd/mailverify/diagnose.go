package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/mailverify/mailverify/diagnose"
)

// diagnoseCmd tests a domain's own mail setup. Exit status: 0 when no
// check failed, 1 when one did, 2 for a usage error.
func diagnoseCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c common
	fs := flag.NewFlagSet("mailverify diagnose", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.register(fs)
	asJSON := fs.Bool("json", false, "print the report as JSON (the schema of diagnose.Report)")
	noColor := fs.Bool("no-color", false, "no colors, even on a terminal")
	selectors := fs.String("dkim-selector", "", "DKIM `selectors` to check, comma-separated")
	authPort := fs.String("auth-port", "53", "the `port` to ask the domain's authoritative name servers on")
	relay := fs.String("relay-domain", "example.net", "a `domain` the servers must not relay for (the open-relay check; RCPT only)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mailverify diagnose [flags] DOMAIN\n\nTests the domain's mail setup: DNS, reverse DNS, SMTP, TLS, MTA-STS, DANE, SPF, DMARC, DKIM, blocklists.\n--dnsbl takes the blocklist zones (default: "+strings.Join(diagnose.DefaultDNSBL, ",")+"; \"none\" for none).")
		fs.PrintDefaults()
	}
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return exitConfig
	}
	if len(rest) != 1 {
		return usageError(stderr, "diagnose takes one DOMAIN")
	}
	dialer, err := c.dialer()
	if err != nil {
		return usageError(stderr, "%v", err)
	}
	cfg := diagnose.Config{Dialer: dialer, Port: c.port, HELO: c.helo, MailFrom: c.from, AllowPrivate: c.allowPrivate,
		AuthPort: *authPort, RelayDomain: *relay, DKIMSelectors: zones(*selectors)}
	if c.dns != "" {
		cfg.DNS = []string{withPort(c.dns)}
	}
	cfg.DNSBL = dnsblFlag(c.dnsbl)
	ctx, cancel := context.WithTimeout(ctx, 2*c.timeout)
	defer cancel()
	rep, err := diagnose.Run(ctx, rest[0], cfg)
	if errors.Is(err, diagnose.ErrDomain) {
		return usageError(stderr, "%v", err)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailverify: %v\n", err)
		return exitIO
	}
	return writeReport(stdout, rep, rep.Summary, reportOutput{json: *asJSON, noColor: *noColor})
}

// dnsblFlag reads --dnsbl: "" for the defaults (nil), "none" for none,
// else the zones.
func dnsblFlag(s string) []string {
	switch s {
	case "":
		return nil
	case "none":
		return []string{}
	}
	return zones(s)
}

// reportOutput is how diagnose and doctor print their report.
type reportOutput struct{ json, noColor bool }

// writeReport prints a diagnose or doctor report, as JSON or as text
// (coloured on a terminal), and returns the exit code: 1 when some check
// failed.
func writeReport(stdout io.Writer, rep interface{ WriteText(io.Writer, bool) }, sum diagnose.Summary, o reportOutput) int {
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(rep); err != nil {
			return exitIO
		}
	} else {
		rep.WriteText(stdout, !o.noColor && isTerminal(stdout))
	}
	if sum.Result == diagnose.Fail {
		return exitIO // 1: some check failed
	}
	return exitOK
}

// withPort adds :53 to a resolver given without a port.
func withPort(s string) string {
	if strings.Contains(s, "]:") || strings.Count(s, ":") == 1 {
		return s
	}
	return s + ":53"
}
