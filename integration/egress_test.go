//go:build integration

package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailverify/mailverify/verify"
)

// cli is the mailverify binary the egress tests share, built once.
var cli struct {
	once sync.Once
	dir  string
	err  error
}

func cliBinary(t *testing.T) string {
	t.Helper()
	cli.once.Do(func() {
		if cli.dir, cli.err = os.MkdirTemp("", "mailverify-it-cli-"); cli.err != nil {
			return
		}
		if out, err := exec.Command("go", "build", "-o", filepath.Join(cli.dir, "mailverify"), "../cmd/mailverify").CombinedOutput(); err != nil {
			cli.err = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if cli.err != nil {
		t.Fatal(cli.err)
	}
	return filepath.Join(cli.dir, "mailverify")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if cli.dir != "" {
		os.RemoveAll(cli.dir)
	}
	os.Exit(code)
}

// TestCLIEgressPool: the built CLI with two egresses, a source address
// (127.0.0.33) that the pool's Postfix bans with a 5.7.606 text, and a
// real SOCKS5 proxy (dante, going out from 127.0.0.35). The ban is a
// reply about the egress: no address ends undeliverable or deliverable
// through it; the work moves to the proxy, which finishes it with the
// right verdicts; stderr reports the banned egress.
func TestCLIEgressPool(t *testing.T) {
	dns, dir := env(t)
	bin := cliBinary(t)
	addrs := []string{"jane@pool.it.test"}
	for i := range 11 {
		addrs = append(addrs, fmt.Sprintf("ghost%d@pool.it.test", i))
	}
	// The pool's budget is the server's tolerance (see writeProfiles).
	profiles := writeProfiles(t)
	before := len(disconnects(t, dir, "pool"))
	args := append([]string{"--dns", dns, "--allow-private", "--allow-special-use", "--progress=false",
		"--helo", "verifier.it.test", "--dns-canary", "mailbox.it.test", "--timeout", "40s", "--profiles", profiles,
		"--egress", "127.0.0.33", "--egress", "socks5://127.0.0.34:1080"}, addrs...)
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("mailverify: %v\n%s", err, stderr.String())
	}
	t.Logf("%d addresses in %v; stderr:\n%s", len(addrs), time.Since(start).Round(time.Millisecond), stderr.String())
	got := map[string]verify.Result{}
	for l := range strings.Lines(stdout.String()) {
		var r verify.Result
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		got[r.Input] = r
	}
	for _, a := range addrs {
		r, ok := got[a]
		switch {
		case !ok:
			t.Errorf("%s: no result", a)
		case a == "jane@pool.it.test" && (r.Status != verify.Deliverable || r.Reason != verify.ReasonAccepted):
			t.Errorf("jane exists: %v/%v (%+v)", r.Status, r.Reason, r.SMTP)
		case a != "jane@pool.it.test" && r.Status == verify.Deliverable:
			t.Errorf("%s does not exist but is deliverable (%+v)", a, r.SMTP)
		case a != "jane@pool.it.test" && r.Reason != verify.ReasonMailboxNotFound:
			t.Errorf("%s: %v/%v (%+v), want undeliverable/mailbox_not_found through the proxy", a, r.Status, r.Reason, r.SMTP)
		}
		if r.SMTP != nil && strings.Contains(r.SMTP.Message, "banned") {
			t.Errorf("%s was decided by the ban: %+v", a, r.SMTP)
		}
	}
	// The banned egress is reported: its state change and the summary.
	for _, want := range []string{"egress 127.0.0.33, server:127.0.0.23:25: healthy -> blocked", "5.7.606",
		"egress 127.0.0.33 (from 127.0.0.33), server:127.0.0.23:25: blocked", "egress socks5://127.0.0.34:1080: healthy"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	// Postfix saw both egresses: the banned address and dante's.
	time.Sleep(500 * time.Millisecond) // let postlogd write
	var from33, from35 int
	for _, l := range disconnects(t, dir, "pool")[before:] {
		from33 += strings.Count(l, "[127.0.0.33]")
		from35 += strings.Count(l, "[127.0.0.35]")
	}
	if from33 == 0 || from35 == 0 {
		t.Errorf("sessions at the server: %d from 127.0.0.33, %d from dante (127.0.0.35); want both", from33, from35)
	}
	// The budget held: no source sent more RCPTs than its 40 a minute.
	for src, n := range rcptsBySource(disconnects(t, dir, "pool")[before:]) {
		if n > 40 {
			t.Errorf("%s sent %d RCPTs; its budget is 40 a minute", src, n)
		}
	}
}

// rcptsBySource adds up the RCPTs each client sent, from Postfix's
// "disconnect from unknown[ADDR] ... rcpt=A/S" lines.
func rcptsBySource(lines []string) map[string]int {
	out := map[string]int{}
	for _, l := range lines {
		_, rest, _ := strings.Cut(l, "disconnect from ")
		_, rest, _ = strings.Cut(rest, "[")
		src, rest, _ := strings.Cut(rest, "]")
		for _, f := range strings.Fields(rest) {
			if c, ok := strings.CutPrefix(f, "rcpt="); ok {
				_, sent, slash := strings.Cut(c, "/")
				if !slash {
					sent = c
				}
				var n int
				fmt.Sscan(sent, &n)
				out[src] += n
			}
		}
	}
	return out
}

// writeProfiles writes a profiles table of 40 RCPTs a minute per egress:
// the embedded default (10) would leave the addresses moved after a ban
// or a throttle waiting for the next minute.
func writeProfiles(t *testing.T) string {
	t.Helper()
	profiles := filepath.Join(t.TempDir(), "profiles.json")
	if err := os.WriteFile(profiles, []byte(`{"profiles":[{"provider":"default","per_minute":40,"sessions":2,
		"sources":{"per_minute":"the pool listener's smtpd_client_recipient_rate_limit","sessions":"verify's PerHost"}}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return profiles
}

// TestCLIEgressThrottled: Postfix's anvil allows a client 4 recipients a
// minute (smtpd_client_recipient_rate_limit; dante's address is exempt),
// well under the pool's budget; past it, "450 4.7.1 Error: too many
// recipients from" throttles the egress and keeps the session open. The
// work moves to the proxy at once and finishes with every verdict right;
// the throttle is reported.
func TestCLIEgressThrottled(t *testing.T) {
	dns, dir := env(t)
	bin := cliBinary(t)
	addrs := []string{"jane@throttle.it.test"}
	for i := range 6 {
		addrs = append(addrs, fmt.Sprintf("ghost%d@throttle.it.test", i))
	}
	before := len(disconnects(t, dir, "throttle"))
	cmd := exec.Command(bin, append([]string{"--dns", dns, "--allow-private", "--allow-special-use", "--progress=false",
		"--helo", "verifier.it.test", "--dns-canary", "mailbox.it.test", "--timeout", "20s", "--profiles", writeProfiles(t),
		"--egress", "127.0.0.36", "--egress", "socks5://127.0.0.34:1080"}, addrs...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("mailverify: %v\n%s", err, stderr.String())
	}
	el := time.Since(start)
	t.Logf("%d addresses in %v; stdout:\n%s\nstderr:\n%s", len(addrs), el.Round(time.Millisecond), stdout.String(), stderr.String())
	if el > 30*time.Second {
		t.Errorf("took %v; the timeout is 20 s", el)
	}
	right := 0
	for l := range strings.Lines(stdout.String()) {
		var r verify.Result
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		jane := r.Input == "jane@throttle.it.test"
		switch {
		case jane && r.Status == verify.Deliverable, !jane && r.Reason == verify.ReasonMailboxNotFound:
			right++
		case jane && r.Status == verify.Undeliverable, !jane && r.Status == verify.Deliverable:
			t.Errorf("%s: %v/%v (%+v): wrong", r.Input, r.Status, r.Reason, r.SMTP)
		default:
			t.Errorf("%s: %v/%v (%+v); want its verdict through the proxy", r.Input, r.Status, r.Reason, r.SMTP)
		}
	}
	if right != len(addrs) {
		t.Errorf("%d of %d verdicts right", right, len(addrs))
	}
	if !strings.Contains(stderr.String(), "egress 127.0.0.36, server:127.0.0.24:25: healthy -> throttled") ||
		!strings.Contains(stderr.String(), "too many recipients from") {
		t.Error("the throttled egress was not reported")
	}
	time.Sleep(500 * time.Millisecond) // let postlogd write
	sent := rcptsBySource(disconnects(t, dir, "throttle")[before:])
	if sent["127.0.0.35"] == 0 || sent["127.0.0.36"] == 0 {
		t.Errorf("RCPTs at the server by source %v; want both egresses", sent)
	}
	t.Logf("RCPTs at the server by source: %v", sent)
}
