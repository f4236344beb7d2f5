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
	"testing"
	"time"

	"github.com/mailverify/mailverify/verify"
)

// TestCLIEgressPool: the built CLI with two egresses, a source address
// (127.0.0.33) that the pool's Postfix bans with a 5.7.606 text, and a
// real SOCKS5 proxy (dante, going out from 127.0.0.35). The ban is a
// reply about the egress: no address ends undeliverable or deliverable
// through it; the work moves to the proxy, which finishes it with the
// right verdicts; stderr reports the banned egress.
func TestCLIEgressPool(t *testing.T) {
	dns, dir := env(t)
	bin := filepath.Join(t.TempDir(), "mailverify")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/mailverify").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	addrs := []string{"jane@pool.it.test"}
	for i := range 11 {
		addrs = append(addrs, fmt.Sprintf("ghost%d@pool.it.test", i))
	}
	// The pool's budget is the server's tolerance: Postfix's anvil allows
	// 40 recipients a minute per client (the embedded default, 10, would
	// leave the moved addresses waiting for the next minute).
	profiles := filepath.Join(t.TempDir(), "profiles.json")
	if err := os.WriteFile(profiles, []byte(`{"profiles":[{"provider":"default","per_minute":40,"sessions":2,
		"sources":{"per_minute":"the harness's smtpd_client_recipient_rate_limit","sessions":"verify's PerHost"}}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
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
	// The budget kept each egress under the server's rate limit.
	log, _ := os.ReadFile(filepath.Join(dir, "maillog"))
	for l := range strings.Lines(string(log)) {
		if strings.Contains(l, "postfix/pool/") && strings.Contains(l, "too many recipients from") {
			t.Errorf("Postfix's anvil rate limit was reached: the budget did not hold: %s", l)
		}
	}
}
