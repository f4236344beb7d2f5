package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mailverify/mailverify/diagnose"
	"github.com/mailverify/mailverify/internal/testsmtp"
)

// TestEgressState: a server bans the pool's 127.0.0.2. The first run
// finishes through 127.0.0.3 and keeps the block in --egress-state; the
// second run reads it and sends nothing through 127.0.0.2 (the back-off
// holds across runs); doctor --egress-state reports the block for
// 127.0.0.2 only.
func TestEgressState(t *testing.T) {
	var from2 atomic.Int32
	srv := &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": func(c *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
		if strings.HasPrefix(c.Peer, "127.0.0.2:") {
			from2.Add(1)
			return testsmtp.R(550, "5.7.606", "Access denied, banned sending IP [127.0.0.2]")
		}
		if a := strings.ToLower(cmd.Arg); strings.Contains(a, "<jane@") || strings.Contains(a, "<postmaster@") { // RFC 5321, 4.5.1
			return testsmtp.R(250, "2.1.5", "Ok")
		}
		return testsmtp.R(550, "5.1.1", "User unknown")
	}}}
	flags, _ := setup(t, srv)
	state := filepath.Join(t.TempDir(), "state", "egress.json")
	args := append(flags, "--egress", "127.0.0.2", "--egress", "127.0.0.3", "--egress-state", state, "jane@example.test", "nobody@example.test")
	verdicts := func(out string) string {
		got := map[string]string{}
		for _, l := range parseLines(t, out) {
			got[l.Input] = l.Status + "/" + l.Reason
		}
		return got["jane@example.test"] + " " + got["nobody@example.test"]
	}
	code, out, errs := runCLI(t, t.Context(), "", args...)
	if code != exitOK || verdicts(out) != "deliverable/accepted undeliverable/mailbox_not_found" {
		t.Fatalf("first run: exit %d, %s\n%s", code, verdicts(out), errs)
	}
	if from2.Load() == 0 || !strings.Contains(errs, "egress 127.0.0.2, server:127.0.0.1") || !strings.Contains(errs, "-> blocked") {
		t.Fatalf("first run: %d RCPTs from 127.0.0.2, stderr:\n%s", from2.Load(), errs)
	}
	b, err := os.ReadFile(state)
	var f stateFile
	if err != nil || json.Unmarshal(b, &f) != nil || len(f.Pairs) != 1 || f.Pairs[0].Key.Egress != "127.0.0.2" ||
		f.Pairs[0].Record.State.String() != "blocked" {
		t.Fatalf("state file (%v):\n%s", err, b)
	}

	from2.Store(0)
	code, out, errs = runCLI(t, t.Context(), "", args...)
	if code != exitOK || verdicts(out) != "deliverable/accepted undeliverable/mailbox_not_found" {
		t.Fatalf("second run: exit %d, %s\n%s", code, verdicts(out), errs)
	}
	if n := from2.Load(); n != 0 || strings.Contains(errs, "-> blocked") {
		t.Errorf("second run: %d RCPTs through the blocked 127.0.0.2; stderr:\n%s", n, errs)
	}

	doctor := func(local string) map[string]diagnose.Result {
		t.Helper()
		_, out, errs := runCLI(t, t.Context(), "", "doctor", flags[0], flags[1], flags[2], flags[3], "--allow-private",
			"--provider", "example.test", "--dnsbl", "none", "--control", "", "--timeout", "5s", "--json",
			"--local-addr", local, "--egress-state", state)
		var rep diagnose.DoctorReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("doctor --local-addr %s: %v\n%s\n%s", local, err, out, errs)
		}
		got := map[string]diagnose.Result{}
		for _, c := range rep.Checks {
			if c.Section == diagnose.SecEvidence {
				got[c.ID] = c.Result
			}
		}
		return got
	}
	if got := doctor("127.0.0.2"); got["evidence.block"] != diagnose.Fail {
		t.Errorf("doctor for 127.0.0.2: %v; want the block", got)
	}
	if got := doctor("127.0.0.3"); got["evidence.recent"] != diagnose.Pass || len(got) != 1 {
		t.Errorf("doctor for 127.0.0.3: %v; want a clean record", got)
	}
	// An egress of a pool is looked up by its name, as the runs keep it.
	named := filepath.Join(t.TempDir(), "named-state.json")
	pool := filepath.Join(t.TempDir(), "pool.txt")
	if err := os.WriteFile(pool, []byte("127.0.0.2 name=edge-a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runCLI(t, t.Context(), "", append(flags, "--egress-file", pool, "--egress-state", named, "nobody@example.test")...)
	if b, err := os.ReadFile(named); err != nil || !strings.Contains(string(b), `"egress": "edge-a"`) {
		t.Fatalf("the run kept no record of edge-a (%v):\n%s", err, b)
	}
	_, out, errs = runCLI(t, t.Context(), "", "doctor", flags[0], flags[1], flags[2], flags[3], "--allow-private",
		"--provider", "example.test", "--dnsbl", "none", "--control", "", "--timeout", "5s", "--json",
		"--egress-file", pool, "--egress-state", named)
	if !strings.Contains(out, `"evidence.block"`) || !strings.Contains(out, "edge-a") {
		t.Errorf("doctor --egress-file with edge-a: no block reported for it\n%.2000s\n%s", out, errs)
	}
	// A missing file is an empty record; one that is not JSON is a usage error.
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]bool{filepath.Join(t.TempDir(), "missing"): false, bad: true} {
		code, _, errs := runCLI(t, t.Context(), "", "doctor", flags[0], flags[1], "--provider", "none", "--dnsbl", "none",
			"--control", "", "--egress-state", file)
		if (code == exitConfig) != want {
			t.Errorf("doctor --egress-state %s: exit %d (%s)", filepath.Base(file), code, errs)
		}
	}
}
