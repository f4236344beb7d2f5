package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// TestRiskSignalsOverDNS runs the risk signals through real DNS on the
// wire (a testdns server): parked by name server and by address, a
// disposable network on an unlisted domain, a typo domain that takes
// mail, and the mailbox provider behind a gateway.
func TestRiskSignalsOverDNS(t *testing.T) {
	srv := testsmtp.Mailboxes("jane@parked.test", "jane@parkaddr.test", "jane@gated.test", "jane@gmsil.com", "jane@throw.test")
	flags, zone := setup(t, srv)
	for _, rr := range []string{
		"parked.test. 300 IN MX 10 mx.example.test.",
		"parked.test. 300 IN NS ns1.sedoparking.com.",
		"parkaddr.test. 300 IN MX 10 mx.example.test.",
		"parkaddr.test. 300 IN A 91.195.240.10",
		"throw.test. 300 IN MX 10 mail.mailinator.com.",
		"mail.mailinator.com. 300 IN A 127.0.0.1",
		"gmsil.com. 300 IN MX 10 mx.example.test.",
		"gated.test. 300 IN MX 10 mx0a-001.pphosted.com.",
		"mx0a-001.pphosted.com. 300 IN A 127.0.0.1",
		`gated.test. 300 IN TXT "v=spf1 include:spf.protection.outlook.com include:_spf.pphosted.com -all"`,
	} {
		if err := zone.Add(rr); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr := runCLI(t, context.Background(), "", append(flags,
		"jane@parked.test", "nobody@parkaddr.test", "jane@throw.test", "jane@gmsil.com", "jane@gated.test")...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	type result struct {
		Input, Status, Reason, Provider, Backend string
		Risk                                     map[string]struct{ Service string }
	}
	got := map[string]result{}
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var r result
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		got[r.Input] = r
	}
	check := func(addr, status, reason, flag, service string) {
		t.Helper()
		r := got[addr]
		if r.Status != status || r.Reason != reason {
			t.Errorf("%s: %s/%s; want %s/%s", addr, r.Status, r.Reason, status, reason)
		}
		if flag != "" {
			if f, ok := r.Risk[flag]; !ok || service != "" && f.Service != service {
				t.Errorf("%s: risk %+v; want %s %s", addr, r.Risk, flag, service)
			}
		}
	}
	check("jane@parked.test", "deliverable", "accepted", "parked", "sedo") // a definite answer stands, flagged
	check("nobody@parkaddr.test", "undeliverable", "mailbox_not_found", "parked", "sedo")
	check("jane@throw.test", "risky", "disposable", "disposable_network", "mailinator")
	check("jane@gmsil.com", "risky", "possible_typo", "typo_trap", "")
	check("jane@gated.test", "deliverable", "accepted", "", "")
	if r := got["jane@gated.test"]; r.Provider != "proofpoint" || r.Backend != "microsoft365" {
		t.Errorf("gated.test: provider %q backend %q; want proofpoint in front of microsoft365", r.Provider, r.Backend)
	}
	if srv.Count("RCPT") == 0 {
		t.Error("no SMTP at all")
	}
	// A table of one's own replaces the embedded one.
	table := filepath.Join(t.TempDir(), "parking.txt")
	if err := os.WriteFile(table, []byte("mypark\tparking\tns\tns1.sedoparking.com\tlocal\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stdout, stderr = runCLI(t, context.Background(), "", append(flags, "--parking", table, "jane@parked.test")...)
	if !strings.Contains(stdout, `"service":"mypark"`) {
		t.Errorf("with --parking: %s %s", stdout, stderr)
	}
	if code, _, _ := runCLI(t, context.Background(), "", append(flags, "--parking", "/nonexistent", "jane@parked.test")...); code != exitConfig {
		t.Errorf("a missing --parking file: exit %d; want 2", code)
	}
}
