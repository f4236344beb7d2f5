package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mailverify/mailverify/diagnose"
	"github.com/mailverify/mailverify/internal/testsmtp"
)

// TestDoctor runs mailverify doctor against a loopback mail server whose
// DNS vouches for 127.0.0.1, then with a HELO that does not match.
func TestDoctor(t *testing.T) {
	flags, zone := setup(t, testsmtp.Mailboxes("postmaster@example.test"))
	for _, rr := range []string{
		`example.test. 300 IN TXT "v=spf1 ip4:127.0.0.1 -all"`,
		"2.0.0.127.bl.test. 300 IN A 127.0.0.2",
		"other.example.test. 300 IN A 192.0.2.1",
	} {
		if err := zone.Add(rr); err != nil {
			t.Fatal(err)
		}
	}
	base := []string{"doctor", flags[0], flags[1], flags[2], flags[3], "--allow-private", "--provider", "example.test",
		"--from", "probe@example.test", "--dnsbl", "bl.test", "--timeout", "5s"}
	code, out, errs := runCLI(t, t.Context(), "", append(base, "--json", "--helo", "mx.example.test")...)
	var rep diagnose.DoctorReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v:\n%s\n%s", err, out, errs)
	}
	got := map[string]diagnose.Result{}
	for _, c := range rep.Checks {
		got[c.ID] = max(got[c.ID], c.Result)
	}
	for id, want := range map[string]diagnose.Result{
		"port25.server": diagnose.Pass, "port25.outbound": diagnose.Pass, "identity.address": diagnose.Info,
		"identity.ptr": diagnose.Pass, "identity.fcrdns": diagnose.Pass, "identity.helo": diagnose.Pass,
		"identity.mail_from": diagnose.Pass, "identity.spf": diagnose.Pass, "blocklist.bl.test": diagnose.Pass,
		"evidence.recent": diagnose.Info,
	} {
		if got[id] != want {
			t.Errorf("%s: %s; want %s", id, got[id], want)
		}
	}
	if code != exitOK || len(rep.Egresses) != 1 || rep.Egresses[0].Address != "127.0.0.1" {
		t.Errorf("exit %d, egresses %+v; want 0 and the local 127.0.0.1\n%s", code, rep.Egresses, errs)
	}
	code, out, _ = runCLI(t, t.Context(), "", append(base, "--no-color", "--helo", "other.example.test")...)
	if code != exitIO {
		t.Errorf("a HELO that does not match: exit %d; want 1", code)
	}
	for _, want := range []string{"Prober setup: FAIL", "FAIL identity.helo [direct other.example.test]", "Fix these first:"} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	for _, args := range [][]string{{"doctor", "extra"}, {"doctor", "--socks5", "nope:99999"}, {"doctor", "--local-addr", "x"}, {"doctor", "--port", "0"}} {
		if code, _, _ := runCLI(t, t.Context(), "", args...); code != exitConfig {
			t.Errorf("%q: exit %d; want 2", args, code)
		}
	}
}
