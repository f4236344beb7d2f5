//go:build integration

package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/mx"
	"github.com/mailverify/mailverify/syntax"
	"github.com/mailverify/mailverify/verify"
)

func env(t *testing.T) (dns, dir string) {
	dns, dir = os.Getenv("MAILVERIFY_IT_DNS"), os.Getenv("MAILVERIFY_IT_DIR")
	if dns == "" || dir == "" {
		t.Skip("the integration harness is not up: run integration/harness.sh up, then integration/harness.sh test (as root)")
	}
	return dns, dir
}

var testPolicy = func() syntax.Policy { p := syntax.Default; p.AllowSpecialUse = true; return p }()

func verifier(dns string) *verify.Verifier {
	return &verify.Verifier{
		Resolver: &mx.DNS{Servers: []string{dns}}, AllowPrivate: true, Syntax: &testPolicy,
		HELO: "verifier.it.test", CommandTimeout: 10 * time.Second, GreylistMaxWait: time.Nanosecond,
	}
}

// connects counts the connections a Postfix listener logged.
func connects(t *testing.T, dir, listener string) int {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "maillog"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "postfix/"+listener+"/smtpd[") && strings.Contains(sc.Text(), ": connect from ") {
			n++
		}
	}
	return n
}

func TestVerdictsAgainstPostfix(t *testing.T) {
	dns, _ := env(t)
	v := verifier(dns)
	for _, tc := range []struct {
		addr   string
		status verify.Status
		reason verify.Reason
	}{
		{"jane@mailbox.it.test", verify.Deliverable, verify.ReasonAccepted},
		{"nobody@mailbox.it.test", verify.Undeliverable, verify.ReasonMailboxNotFound},
		{"anyone@catchall.it.test", verify.Risky, verify.ReasonCatchAll},
		{"full@access.it.test", verify.Risky, verify.ReasonMailboxFull},
		{"disabled@access.it.test", verify.Undeliverable, verify.ReasonMailboxDisabled},
		{"first@grey.it.test", verify.Unknown, verify.ReasonGreylisted},
		{"jane@tls.it.test", verify.Deliverable, verify.ReasonAccepted},
		{"jane@slow.it.test", verify.Deliverable, verify.ReasonAccepted},
		{"someone@implicit.it.test", verify.Risky, verify.ReasonCatchAll},
		{"x@nullmx.it.test", verify.Undeliverable, verify.ReasonNullMX},
		{"x@nonexistent.it.test", verify.Undeliverable, verify.ReasonDomainNotFound},
		{"x@closed.it.test", verify.Unknown, verify.ReasonConnectionFailed},
		{"x@deadhost.it.test", verify.Undeliverable, verify.ReasonNoMailServer},
		{"x@ipv6.it.test", verify.Risky, verify.ReasonCatchAll},
		{"jane@backup.it.test", verify.Deliverable, verify.ReasonAccepted}, // first MX refuses connections
	} {
		r, err := v.Verify(t.Context(), tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != tc.status || r.Reason != tc.reason {
			t.Errorf("%s: %v/%v (%s, smtp %+v), want %v/%v", tc.addr, r.Status, r.Reason, r.Error, r.SMTP, tc.status, tc.reason)
		}
	}
}

func TestSlowServerTimesOut(t *testing.T) {
	dns, _ := env(t)
	v := verifier(dns)
	v.CommandTimeout = time.Second // the listener sleeps 2 s before each RCPT reply
	r, _ := v.Verify(t.Context(), "jane@slow.it.test")
	if r.Status != verify.Unknown || r.Reason != verify.ReasonTimeout {
		t.Errorf("%v/%v, want unknown/timeout", r.Status, r.Reason)
	}
}

func TestGreylistedBecomesDeliverable(t *testing.T) {
	dns, _ := env(t)
	v := verifier(dns)
	v.GreylistDelay, v.GreylistMaxWait = 4*time.Second, time.Minute // postgrey runs with --delay=3
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	r, err := v.Verify(ctx, "jane@grey.it.test")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != verify.Deliverable || r.Reason != verify.ReasonAccepted {
		t.Errorf("after the greylisting retry: %v/%v (%s)", r.Status, r.Reason, r.Error)
	}
	if el := time.Since(start); el < 3*time.Second {
		t.Errorf("finished in %v, before postgrey's delay", el)
	}
}

func TestOneConnectionPerDomain(t *testing.T) {
	dns, dir := env(t)
	v := verifier(dns)
	addrs := []string{"jane@mailbox.it.test", "info@mailbox.it.test", "postmaster@mailbox.it.test", "nobody@mailbox.it.test", "nobody2@mailbox.it.test"}
	before := connects(t, dir, "mailbox")
	n := 0
	for _, r := range v.VerifyAll(t.Context(), addrs) {
		if r.Reason != verify.ReasonAccepted && r.Reason != verify.ReasonMailboxNotFound {
			t.Errorf("%s: %v/%v", r.Input, r.Status, r.Reason)
		}
		n++
	}
	time.Sleep(500 * time.Millisecond) // let postlogd write
	if got := connects(t, dir, "mailbox") - before; n != len(addrs) || got != 1 {
		t.Errorf("%d results; %d connections for %d addresses, want 1", n, got, len(addrs))
	}

	// Postfix's smtpd_recipient_limit of 3: new transactions, same connection.
	before = connects(t, dir, "limit")
	var limit []string
	for i := range 7 {
		limit = append(limit, fmt.Sprintf("user%d@limit.it.test", i))
	}
	for _, r := range v.VerifyAll(t.Context(), limit) {
		if r.Status != verify.Risky || r.Reason != verify.ReasonCatchAll {
			t.Errorf("%s: %v/%v (%s)", r.Input, r.Status, r.Reason, r.Error)
		}
	}
	time.Sleep(500 * time.Millisecond)
	if got := connects(t, dir, "limit") - before; got != 1 {
		t.Errorf("recipient limit: %d connections, want 1", got)
	}
}

func TestStaysUnderPostfixErrorLimits(t *testing.T) {
	dns, dir := env(t)
	v := verifier(dns)
	var addrs []string
	for i := range 25 {
		addrs = append(addrs, fmt.Sprintf("unknown%d@mailbox.it.test", i))
	}
	before := connects(t, dir, "mailbox")
	for _, r := range v.VerifyAll(t.Context(), addrs) {
		if r.Reason != verify.ReasonMailboxNotFound {
			t.Errorf("%s: %v/%v (%s)", r.Input, r.Status, r.Reason, r.Error)
		}
	}
	time.Sleep(500 * time.Millisecond)
	if got := connects(t, dir, "mailbox") - before; got < 3 {
		t.Errorf("%d connections for 25 errors: the session did not reconnect before the soft limit", got)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "maillog"))
	if strings.Contains(string(log), "too many errors") {
		t.Error("Postfix's hard error limit was reached")
	}
}

func TestCLI(t *testing.T) {
	dns, _ := env(t)
	bin := filepath.Join(t.TempDir(), "mailverify")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/mailverify").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--dns", dns, "--allow-private", "--allow-special-use", "--progress=false",
		"--helo", "verifier.it.test", "jane@mailbox.it.test", "nobody@mailbox.it.test", "not an address")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("mailverify: %v", err)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r verify.Result
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		got = append(got, string(r.Reason))
	}
	if strings.Join(got, ",") != "accepted,mailbox_not_found,invalid_syntax" {
		t.Errorf("CLI reasons %q", got)
	}
}
