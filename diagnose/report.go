// Package diagnose tests a domain's own mail setup — DNS, reverse DNS,
// SMTP, TLS, MTA-STS and TLS-RPT, DANE, sender authentication (SPF, DKIM,
// DMARC, BIMI), blocklists — and reports each check as pass, info, warn or
// fail, with the finding, why it matters, how to fix it and the evidence.
// "mailverify diagnose" and the service's GET /v1/diagnose/{domain} print
// its Report; a deliverability dashboard or a DNS provider's checker can
// run it the same way:
//
//	c := &diagnose.Checker{Config: diagnose.Config{HELO: "checker.example.net"}}
//	rep, err := c.Check(ctx, "example.com")
//	if err != nil {
//		return err // not a domain name (ErrDomain), or unusable resolvers
//	}
//	rep.WriteText(os.Stdout, false) // or encoding/json: the schema below
//
// It connects to the domain's mail servers on port 25 (EHLO, STARTTLS,
// and RCPT to probe relaying, never DATA) and asks DNS and, for MTA-STS,
// HTTPS; it sends no mail. Configure it once (Config) and share the
// Checker: it is safe for concurrent use.
//
// Doctor checks the prober's own setup instead of a domain's (port 25,
// the egress's PTR, HELO, MAIL FROM and SPF, blocklists) and returns a
// DoctorReport of the same checks; "mailverify doctor" prints it.
//
// The JSON of a Report (its fields' tags; Result as "pass", "info",
// "warn" or "fail") is a contract, pinned by testdata/report.golden, and
// that of a DoctorReport by testdata/doctor.golden.
// This module is separate from the library's so that its SPF and DMARC
// libraries stay out of the module graph of programs that import only
// verify.
package diagnose

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Result is a check's outcome, in increasing severity.
type Result int

// The outcomes of a check.
const (
	Pass Result = iota
	Info
	Warn
	Fail
)

var resultNames = [...]string{"pass", "info", "warn", "fail"}

func (r Result) String() string { return resultNames[r] }

// MarshalText writes the name.
func (r Result) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads a name.
func (r *Result) UnmarshalText(b []byte) error {
	i := slices.Index(resultNames[:], string(b))
	if i < 0 {
		return fmt.Errorf("diagnose: result %q", b)
	}
	*r = Result(i)
	return nil
}

// Sections, in report order.
const (
	SecDNS        = "dns"
	SecReverse    = "reverse_dns"
	SecSMTP       = "smtp"
	SecTLS        = "tls"
	SecMTASTS     = "mta_sts"
	SecAuth       = "sender_auth"
	SecBlocklists = "blocklists"
)

var sections = []string{SecDNS, SecReverse, SecSMTP, SecTLS, SecMTASTS, SecAuth, SecBlocklists}

// A Check is one finding.
type Check struct {
	ID       string   `json:"id"` // stable: "dns.mx", "tls.expiry", ...
	Section  string   `json:"section"`
	Result   Result   `json:"result"`
	Target   string   `json:"target,omitempty"` // the host or address it is about
	Egress   string   `json:"egress,omitempty"` // doctor: the egress it is about
	Finding  string   `json:"finding"`
	Why      string   `json:"why,omitempty"`
	Fix      string   `json:"fix,omitempty"`
	Evidence []string `json:"evidence,omitempty"`
}

// A Report is every check of one domain, and their summary.
type Report struct {
	Schema  int     `json:"schema"` // 1
	Domain  string  `json:"domain"`
	Checks  []Check `json:"checks"`
	Summary Summary `json:"summary"`
}

// Summary scores the sections and lists what to fix first.
type Summary struct {
	Result   Result         `json:"result"` // the worst of all checks
	Sections []SectionScore `json:"sections"`
	FixFirst []string       `json:"fix_first"` // the fails, then the warns: "id: finding"
}

// SectionScore counts a section's checks; Score is the share that passed
// or are informational, 0 to 100.
type SectionScore struct {
	Section string `json:"section"`
	Pass    int    `json:"pass"`
	Info    int    `json:"info"`
	Warn    int    `json:"warn"`
	Fail    int    `json:"fail"`
	Score   int    `json:"score"`
}

func (r *Report) add(c Check) { r.Checks = append(r.Checks, c) }

// summarize fills Summary from Checks.
func (r *Report) summarize() {
	r.Schema = 1
	r.Summary = summarize(r.Checks, sections)
}

// summarize scores checks by section, in the order of secs.
func summarize(checks []Check, secs []string) Summary {
	sum := Summary{FixFirst: []string{}, Sections: []SectionScore{}}
	for _, sec := range secs {
		s := SectionScore{Section: sec}
		for _, c := range checks {
			if c.Section != sec {
				continue
			}
			switch c.Result {
			case Pass:
				s.Pass++
			case Info:
				s.Info++
			case Warn:
				s.Warn++
			case Fail:
				s.Fail++
			}
			sum.Result = max(sum.Result, c.Result)
		}
		n := s.Pass + s.Info + s.Warn + s.Fail
		if n == 0 {
			continue
		}
		// A warn counts half.
		s.Score = (200*(s.Pass+s.Info) + 100*s.Warn) / (2 * n)
		sum.Sections = append(sum.Sections, s)
	}
	for _, want := range []Result{Fail, Warn} {
		for _, c := range checks {
			if c.Result == want {
				item := c.ID + ": " + c.Finding
				if t := c.target(); t != "" {
					item = c.ID + " (" + t + "): " + c.Finding
				}
				sum.FixFirst = append(sum.FixFirst, item)
			}
		}
	}
	return sum
}

// target names what the check is about: its egress and target.
func (c *Check) target() string {
	switch {
	case c.Egress == "":
		return c.Target
	case c.Target == "":
		return c.Egress
	}
	return c.Egress + " " + c.Target
}

func paint(color bool, res Result, s string) string {
	if !color {
		return s
	}
	code := map[Result]string{Pass: "32", Info: "36", Warn: "33", Fail: "31"}[res]
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// WriteText prints the report for people: by section, a mark per check,
// the why and fix of what is not a pass; color adds ANSI colors.
func (r *Report) WriteText(w io.Writer, color bool) {
	fmt.Fprintf(w, "Mail setup of %s: %s\n", r.Domain, paint(color, r.Summary.Result, strings.ToUpper(r.Summary.Result.String())))
	writeChecks(w, r.Checks, r.Summary, color)
}

// writeChecks prints the sections of sum, their checks, and what to fix
// first.
func writeChecks(w io.Writer, checks []Check, sum Summary, color bool) {
	marks := map[Result]string{Pass: "PASS", Info: "INFO", Warn: "WARN", Fail: "FAIL"}
	for _, s := range sum.Sections {
		fmt.Fprintf(w, "\n%s  (score %d: %d pass, %d info, %d warn, %d fail)\n", strings.ToUpper(strings.ReplaceAll(s.Section, "_", " ")), s.Score, s.Pass, s.Info, s.Warn, s.Fail)
		for _, c := range checks {
			if c.Section != s.Section {
				continue
			}
			target := ""
			if t := c.target(); t != "" {
				target = " [" + t + "]"
			}
			fmt.Fprintf(w, "  %s %s%s: %s\n", paint(color, c.Result, marks[c.Result]), c.ID, target, c.Finding)
			if c.Result >= Warn {
				if c.Why != "" {
					fmt.Fprintf(w, "       why: %s\n", c.Why)
				}
				if c.Fix != "" {
					fmt.Fprintf(w, "       fix: %s\n", c.Fix)
				}
			}
			for _, e := range c.Evidence {
				fmt.Fprintf(w, "       | %s\n", e)
			}
		}
	}
	if len(sum.FixFirst) > 0 {
		fmt.Fprintln(w, "\nFix these first:")
		for i, f := range sum.FixFirst {
			fmt.Fprintf(w, "  %d. %s\n", i+1, f)
		}
	}
}
