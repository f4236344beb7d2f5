package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/diagnose"
	"github.com/mailverify/mailverify/internal/testdns"
	"github.com/mailverify/mailverify/internal/testsmtp"
)

// setup starts a DNS server for the .test zone and an SMTP server, both on
// loopback, and returns the flags that point the CLI at them.
func setup(t *testing.T, srv *testsmtp.Server) (flags []string, zone *testdns.Zone) {
	t.Helper()
	smtpAddr, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(smtpAddr)
	zone, err = testdns.NewZone(
		"example.test. 300 IN MX 10 mx.example.test.",
		"mx.example.test. 300 IN A 127.0.0.1",
		"1.0.0.127.in-addr.arpa. 300 IN PTR mx.example.test.",
		"nullmx.test. 300 IN MX 0 .",
	)
	if err != nil {
		t.Fatal(err)
	}
	dnsAddr, stop, err := testdns.Start(zone)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return []string{"--dns", dnsAddr, "--port", port, "--allow-private", "--allow-special-use", "--progress=false", "--helo", "verifier.example.net", "--dns-canary", "example.test"}, zone
}

type line struct {
	Input  string `json:"input"`
	Status string `json:"status"`
	Reason string `json:"reason"`
}

func runCLI(t *testing.T, ctx context.Context, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(ctx, args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func parseLines(t *testing.T, s string) []line {
	t.Helper()
	var out []line
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l == "" {
			continue
		}
		var x line
		if err := json.Unmarshal([]byte(l), &x); err != nil {
			t.Fatalf("output line %q: %v", l, err)
		}
		out = append(out, x)
	}
	return out
}

func TestCheckArgsAndStdin(t *testing.T) {
	flags, _ := setup(t, testsmtp.Mailboxes("jane@example.test", "postmaster@example.test"))
	code, out, errs := runCLI(t, t.Context(), "", append(flags, "jane@example.test", "nobody@example.test", "not an address", "x@nullmx.test", "jane@missing.test")...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	got := parseLines(t, out)
	want := []line{
		{"jane@example.test", "deliverable", "accepted"},
		{"nobody@example.test", "undeliverable", "mailbox_not_found"},
		{"not an address", "undeliverable", "invalid_syntax"},
		{"x@nullmx.test", "undeliverable", "null_mx"},
		{"jane@missing.test", "undeliverable", "domain_not_found"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(got), len(want), out)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	// Stdin, with blank lines skipped and a bad line kept in its place.
	code, out, _ = runCLI(t, t.Context(), "jane@example.test\n\n  \nbad line\r\nnobody@example.test\n", flags...)
	got = parseLines(t, out)
	if code != exitOK || len(got) != 3 || got[1].Reason != "invalid_syntax" || got[2].Reason != "mailbox_not_found" {
		t.Errorf("stdin: exit %d, %+v", code, got)
	}
}

func TestCheckCSV(t *testing.T) {
	flags, _ := setup(t, testsmtp.Mailboxes("jane@example.test"))
	in := "name,email,company\nJane,jane@example.test,Acme\nBob,,Acme\nNo One,nobody@example.test,X\n"
	code, out, errs := runCLI(t, t.Context(), in, append(flags, "--column", "Email", "--format", "csv")...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0][0] != "input" || recs[1][0] != "jane@example.test" || recs[1][1] != "deliverable" || recs[2][2] != "mailbox_not_found" {
		t.Errorf("CSV output:\n%s", out)
	}
	if code, _, errs := runCLI(t, t.Context(), in, append(flags, "--csv", "--column", "phone")...); code != exitConfig || !strings.Contains(errs, "phone") {
		t.Errorf("missing column: exit %d, %q", code, errs)
	}
}

func TestCheckOffline(t *testing.T) {
	flags, zone := setup(t, &testsmtp.Server{})
	code, out, _ := runCLI(t, t.Context(), "", append(flags, "--offline", "jane@example.test", "jane@gmial.com")...)
	got := parseLines(t, out)
	if code != exitOK || len(got) != 2 || got[0].Reason != "smtp_not_checked" || got[1].Reason != "possible_typo" {
		t.Errorf("offline: %+v", got)
	}
	if n := zone.Queries(); n != 0 {
		t.Errorf("--offline made %d DNS queries", n)
	}
}

func TestCheckResume(t *testing.T) {
	flags, _ := setup(t, testsmtp.Mailboxes("a@example.test", "c@example.test"))
	dir := t.TempDir()
	out := filepath.Join(dir, "out.jsonl")
	input := "a@example.test\nb@example.test\nc@example.test\nd@example.test\n"

	// An interrupted run: the context is cancelled before any result.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	code, _, errs := runCLI(t, ctx, input, append(flags, "-o", out, "--resume")...)
	if code != exitInterrupted || !strings.Contains(errs, "interrupted") {
		t.Errorf("interrupted run: exit %d, %q", code, errs)
	}
	// A crash left one whole line and half of another.
	first := `{"input":"a@example.test","status":"deliverable","reason":"accepted"}` + "\n"
	if err := os.WriteFile(out, []byte(first+`{"input":"b@exa`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs = runCLI(t, t.Context(), input, append(flags, "-o", out, "--resume")...)
	if code != exitOK || !strings.Contains(errs, "skipped 1 inputs already") {
		t.Fatalf("resume: exit %d, %q", code, errs)
	}
	data, _ := os.ReadFile(out)
	got := parseLines(t, string(data))
	if len(got) != 4 || got[0].Input != "a@example.test" || got[1].Input != "b@example.test" || got[3].Input != "d@example.test" {
		t.Errorf("after resume:\n%s", data)
	}
	// Everything done: a further resume verifies nothing.
	code, _, errs = runCLI(t, t.Context(), input, append(flags, "-o", out, "--resume")...)
	data2, _ := os.ReadFile(out)
	if code != exitOK || !bytes.Equal(data, data2) || !strings.Contains(errs, "skipped 4 inputs") {
		t.Errorf("second resume changed the file or said %q", errs)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--format", "xml", "a@b.com"},
		{"--resume", "a@b.com"},
		{"--column", "x", "a@b.com"},
		{"--port", "0", "a@b.com"},
		{"--starttls", "sometimes", "a@b.com"},
		{"--socks5", "nope", "a@b.com"},
		{"--no-such-flag"},
		{"diagnose"},
	} {
		if code, _, _ := runCLI(t, t.Context(), "", args...); code != exitConfig {
			t.Errorf("%q: exit %d, want %d", args, code, exitConfig)
		}
	}
}

func TestDiagnose(t *testing.T) {
	cfg, err := testsmtp.SelfSigned("mx.example.test")
	if err != nil {
		t.Fatal(err)
	}
	srv := testsmtp.Mailboxes("postmaster@example.test")
	srv.TLS = cfg
	flags, _ := setup(t, srv)
	diagFlags := append(slicesWithout(flags, "--progress=false"), "--dnsbl", "none")
	code, out, errs := runCLI(t, t.Context(), "", append(append([]string{"diagnose", "--json"}, diagFlags...), "example.test")...)
	var rep diagnose.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v:\n%s\n%s", err, out, errs)
	}
	got := map[string]diagnose.Result{}
	for _, c := range rep.Checks {
		got[c.ID] = c.Result
	}
	for id, want := range map[string]diagnose.Result{
		"dns.mx": diagnose.Info, "dns.mx_host": diagnose.Info, "rdns.ptr": diagnose.Pass, "rdns.fcrdns": diagnose.Pass,
		"smtp.connect": diagnose.Pass, "smtp.postmaster": diagnose.Pass, "smtp.abuse": diagnose.Warn, "smtp.open_relay": diagnose.Pass,
		"tls.version": diagnose.Pass, "tls.certificate": diagnose.Fail, // self-signed
		"auth.spf": diagnose.Warn, "auth.dmarc": diagnose.Warn,
	} {
		if got[id] != want {
			t.Errorf("%s: %s; want %s", id, got[id], want)
		}
	}
	if code != exitIO || rep.Summary.Result != diagnose.Fail || len(rep.Summary.FixFirst) == 0 {
		t.Errorf("exit %d, summary %+v; want 1 and a fail to fix first", code, rep.Summary)
	}
	code, out, _ = runCLI(t, t.Context(), "", append(append([]string{"diagnose", "--no-color"}, diagFlags...), "example.test")...)
	if code != exitIO {
		t.Errorf("the text report: exit %d; want 1", code)
	}
	for _, want := range []string{"Mail setup of example.test: FAIL", "TLS  (score", "FAIL tls.certificate", "Fix these first:"} {
		if !strings.Contains(out, want) {
			t.Errorf("human report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("colors with --no-color")
	}
	if code, _, _ := runCLI(t, t.Context(), "", "diagnose", "not a domain"); code != exitConfig {
		t.Errorf("a bad domain: exit %d; want 2", code)
	}
}

func TestServeUsage(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "extra"},
		{"serve", "--listen", "0.0.0.0:0"}, // not loopback, no token file
		{"serve", "--token-file", "/nonexistent/tokens"},
		{"worker"}, // no --nats
		{"worker", "--nats", "nats://127.0.0.1:1", "extra"},
		{"serve", "--no-such-flag"},
	} {
		code, _, stderr := runCLI(t, context.Background(), "", args...)
		if code != exitConfig || stderr == "" {
			t.Errorf("%q: exit %d, stderr %q; want a usage error (2)", args, code, stderr)
		}
	}
}

// TestFeedbackRoundTrip records a bounce with "mailverify feedback" and
// then checks the address: a catch-all domain's acceptance is overruled by
// the bounce on record.
func TestFeedbackRoundTrip(t *testing.T) {
	flags, zone := setup(t, &testsmtp.Server{}) // a server that accepts everyone
	zone.Add("catchall.test. 300 IN MX 10 mx.example.test.")
	history := filepath.Join(t.TempDir(), "history.db")
	nd := `{"address":"gone@catchall.test","event":"bounce","type":"hard","status":"5.1.1","at":"` + time.Now().UTC().Format(time.RFC3339) + `"}` + "\n"
	code, _, stderr := runCLI(t, context.Background(), nd, "feedback", "--history", history)
	if code != exitOK || !strings.Contains(stderr, "recorded 1 events") {
		t.Fatalf("feedback: exit %d, %s", code, stderr)
	}
	code, stdout, stderr := runCLI(t, context.Background(), "", append(flags, "--history", history, "gone@catchall.test", "kept@catchall.test")...)
	if code != exitOK {
		t.Fatalf("check: exit %d, %s", code, stderr)
	}
	got := map[string]string{}
	for _, l := range parseLines(t, stdout) {
		got[l.Input] = l.Status + "/" + l.Reason
	}
	if got["gone@catchall.test"] != "undeliverable/mailbox_not_found" || got["kept@catchall.test"] != "risky/catch_all" {
		t.Errorf("with the history: %v; want the bounced address undeliverable and the other catch-all", got)
	}
	if code, _, _ := runCLI(t, context.Background(), "", "feedback"); code != exitConfig {
		t.Errorf("feedback without --history: exit %d; want 2", code)
	}
}
