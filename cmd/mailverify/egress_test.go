package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// TestCheckEgressPool: two loopback source addresses as a pool (one from
// a file), with right verdicts and a summary line per egress on stderr.
func TestCheckEgressPool(t *testing.T) {
	flags, _ := setup(t, testsmtp.Mailboxes("jane@example.test", "postmaster@example.test"))
	file := filepath.Join(t.TempDir(), "egresses")
	if err := os.WriteFile(file, []byte("# pool\n127.0.0.3 name=second helo=second.example.net\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, t.Context(), "", append(flags, "--egress", "127.0.0.2", "--egress-file", file, "jane@example.test", "nobody@example.test")...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	got := map[string]string{}
	for _, l := range parseLines(t, out) {
		got[l.Input] = l.Status + "/" + l.Reason
	}
	if got["jane@example.test"] != "deliverable/accepted" || got["nobody@example.test"] != "undeliverable/mailbox_not_found" {
		t.Errorf("verdicts %v", got)
	}
	for _, eg := range []string{"egress 127.0.0.2", "egress second"} {
		if !strings.Contains(errs, eg) {
			t.Errorf("stderr has no summary for %s:\n%s", eg, errs)
		}
	}
}

func TestCheckEgressFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--egress", "not-an-address", "jane@example.test"},
		{"--egress", "127.0.0.2", "--egress", "127.0.0.2", "jane@example.test"},
		{"--egress-file", "/nonexistent/file", "jane@example.test"},
		{"--profiles", "/nonexistent/file", "jane@example.test"},
	} {
		code, _, errs := runCLI(t, t.Context(), "", args...)
		if code != exitConfig || !strings.HasPrefix(errs, "mailverify: ") {
			t.Errorf("%v: exit %d, stderr %q; want a config error", args, code, errs)
		}
	}
}

// TestCheckPort25Closed: mail servers of three unrelated networks all
// refuse connections while DNS answers: one line on stderr says so and
// what to do, and the addresses end unknown/connection_failed.
func TestCheckPort25Closed(t *testing.T) {
	flags, zone := setup(t, &testsmtp.Server{})
	var addrs []string
	for i, d := range []string{"a", "b", "c", "d"} {
		ip := []string{"127.0.11.1", "127.0.12.1", "127.0.13.1", "127.0.14.1"}[i]
		for _, rr := range []string{d + ".test. 300 IN MX 10 mx." + d + ".test.", "mx." + d + ".test. 300 IN A " + ip} {
			if err := zone.Add(rr); err != nil {
				t.Fatal(err)
			}
		}
		addrs = append(addrs, "jane@"+d+".test")
	}
	code, out, errs := runCLI(t, t.Context(), "", append(flags, addrs...)...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	n := 0
	for _, l := range strings.Split(errs, "\n") {
		if strings.Contains(l, "port 25") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d lines of stderr name port 25, want one:\n%s", n, errs)
	}
	if !strings.Contains(errs, "--egress") {
		t.Errorf("stderr does not say what to do:\n%s", errs)
	}
	for _, l := range parseLines(t, out) {
		if l.Status != "unknown" || l.Reason != "connection_failed" {
			t.Errorf("%s: %s/%s, want unknown/connection_failed", l.Input, l.Status, l.Reason)
		}
	}
}
