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
		ResolverCanary: "mailbox.it.test", // NSD serves it.test only
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

// TestStaysUnderPostfixErrorLimits: refusals spread over sessions that
// each stay under Postfix's smtpd_soft_error_limit (10), counted by
// Postfix itself: the "disconnect from" line of each connection gives
// every command as accepted/sent. A mixed list exercises the renewal of
// sessions left with little room, not only the spent ones.
func TestStaysUnderPostfixErrorLimits(t *testing.T) {
	dns, dir := env(t)
	v := verifier(dns)
	var addrs []string
	for i := range 60 {
		a := fmt.Sprintf("unknown%d@mailbox.it.test", i)
		if i%9 < 2 {
			a = []string{"jane", "info"}[i%9] + "@mailbox.it.test"
		}
		addrs = append(addrs, a)
	}
	before := disconnects(t, dir, "mailbox")
	for i, r := range v.VerifyAll(t.Context(), addrs) {
		want := verify.ReasonMailboxNotFound
		if !strings.HasPrefix(addrs[i], "unknown") {
			want = verify.ReasonAccepted
		}
		if r.Reason != want {
			t.Errorf("%s: %v/%v (%s)", r.Input, r.Status, r.Reason, r.Error)
		}
	}
	time.Sleep(500 * time.Millisecond)
	lines := disconnects(t, dir, "mailbox")[len(before):]
	if len(lines) < 5 {
		t.Errorf("%d connections for 47 refusals (the catch-all probe's too): the sessions did not renew before the soft limit", len(lines))
	}
	for _, l := range lines {
		if n := refused(l); n >= 10 {
			t.Errorf("a connection drew %d refusals, Postfix's soft limit is 10: %s", n, l)
		}
	}
	log, _ := os.ReadFile(filepath.Join(dir, "maillog"))
	if strings.Contains(string(log), "too many errors") {
		t.Error("Postfix's hard error limit was reached")
	}
}

// disconnects returns the "disconnect from" lines a Postfix listener
// logged, such as "... ehlo=1 mail=2 rcpt=3/9 rset=1 quit=1 commands=8/14".
func disconnects(t *testing.T, dir, listener string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "maillog"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for l := range strings.Lines(string(b)) {
		if strings.Contains(l, "postfix/"+listener+"/smtpd[") && strings.Contains(l, ": disconnect from ") {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}

// refused counts the commands a disconnect line shows as refused: sent
// minus accepted, over every command but the total.
func refused(line string) int {
	n := 0
	for _, f := range strings.Fields(line) {
		name, counts, ok := strings.Cut(f, "=")
		acc, sent, slash := strings.Cut(counts, "/")
		if !ok || !slash || name == "commands" {
			continue
		}
		var a, b int
		if _, err := fmt.Sscan(acc, &a); err != nil {
			continue
		}
		if _, err := fmt.Sscan(sent, &b); err != nil {
			continue
		}
		n += b - a
	}
	return n
}

func TestCLI(t *testing.T) {
	dns, _ := env(t)
	bin := filepath.Join(t.TempDir(), "mailverify")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/mailverify").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--dns", dns, "--allow-private", "--allow-special-use", "--progress=false",
		"--helo", "verifier.it.test", "--dns-canary", "mailbox.it.test", "jane@mailbox.it.test", "nobody@mailbox.it.test", "not an address")
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

// TestBackupAcceptsAllBehindRateLimitedPrimary: the primary rate-limits
// after 3 recipients, the backup accepts everyone. Its acceptances are
// catch-all, never deliverable: the primary's catch-all answer is the
// primary's.
func TestBackupAcceptsAllBehindRateLimitedPrimary(t *testing.T) {
	dns, _ := env(t)
	v := verifier(dns)
	addrs := []string{"jane@ratelimited.it.test"}
	for i := range 8 {
		addrs = append(addrs, fmt.Sprintf("ghost%d@ratelimited.it.test", i))
	}
	viaBackup := 0
	for _, r := range v.VerifyAll(t.Context(), addrs) {
		switch {
		case r.Input != "jane@ratelimited.it.test" && r.Status == verify.Deliverable:
			t.Errorf("%s does not exist but is deliverable (%+v)", r.Input, r.SMTP)
		case r.Input == "jane@ratelimited.it.test" && r.Status == verify.Undeliverable:
			t.Errorf("jane exists but is %v (%+v)", r.Reason, r.SMTP)
		}
		if r.SMTP != nil && r.SMTP.Host == "mx-open.it.test" {
			viaBackup++
			if r.Reason != verify.ReasonCatchAll {
				t.Errorf("%s accepted by the accept-all backup: %v/%v", r.Input, r.Status, r.Reason)
			}
		}
	}
	if viaBackup == 0 {
		t.Error("no address reached the backup: the primary did not rate-limit")
	}
}

// TestRecipientLimitAnsweredWith5xx: a catch-all server that refuses the
// 4th recipient of a transaction with 550 5.5.3. No address is read as
// missing, and the catch-all probe is not the refused 4th.
func TestRecipientLimitAnsweredWith5xx(t *testing.T) {
	dns, dir := env(t)
	v := verifier(dns)
	var addrs []string
	for i := range 8 {
		addrs = append(addrs, fmt.Sprintf("user%d@hardlimit.it.test", i))
	}
	before := connects(t, dir, "hardlimit")
	for _, r := range v.VerifyAll(t.Context(), addrs) {
		if r.Status != verify.Risky || r.Reason != verify.ReasonCatchAll {
			t.Errorf("%s: %v/%v (%+v), want risky/catch_all", r.Input, r.Status, r.Reason, r.SMTP)
		}
	}
	time.Sleep(500 * time.Millisecond)
	if got := connects(t, dir, "hardlimit") - before; got != 1 {
		t.Errorf("%d connections, want 1 (new transactions on the same connection)", got)
	}
}

// TestLongGreylisting: postgrey with a 12 s delay that its reply does not
// state, like its default 300 s scaled down, and the Verifier's schedule
// scaled the same way (first retry after 5 s, doubling, a 30 s budget).
func TestLongGreylisting(t *testing.T) {
	dns, _ := env(t)
	v := verifier(dns)
	v.GreylistDelay, v.GreylistMaxWait = 5*time.Second, 30*time.Second
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	got := map[string]verify.Result{}
	for i, r := range v.VerifyAll(ctx, []string{"jane@grey2.it.test", "nobody@grey2.it.test"}) {
		got[[]string{"jane@grey2.it.test", "nobody@grey2.it.test"}[i]] = r
	}
	if r := got["jane@grey2.it.test"]; r.Status != verify.Deliverable {
		t.Errorf("jane after greylisting: %v/%v (%s)", r.Status, r.Reason, r.Error)
	}
	if r := got["nobody@grey2.it.test"]; r.Reason != verify.ReasonMailboxNotFound {
		t.Errorf("nobody after greylisting: %v/%v (%s)", r.Status, r.Reason, r.Error)
	}
	if el := time.Since(start); el < 12*time.Second || el > 45*time.Second {
		t.Errorf("finished after %v; postgrey's delay is 12 s, the budget 30 s", el)
	}
	// A budget shorter than the delay: greylisted, never a definite verdict.
	v2 := verifier(dns)
	v2.GreylistDelay, v2.GreylistMaxWait = 2*time.Second, 5*time.Second
	r, _ := v2.Verify(t.Context(), "other@grey2.it.test")
	if r.Status != verify.Unknown || r.Reason != verify.ReasonGreylisted || r.RetryAfter <= 0 {
		t.Errorf("short budget: %v/%v retry_after %v", r.Status, r.Reason, time.Duration(r.RetryAfter))
	}
}

// TestSessionSharedAcrossDomains: two domains whose MX is the same Postfix
// listener are verified on one connection, their catch-all probes in the
// same round trips as their addresses. Each domain draws refusals of its
// random addresses (the catch-all probe, the front and the canary), so
// the addresses are few enough that all stay within Postfix's
// smtpd_soft_error_limit (10), past which the session renews its
// connection rather than wait out the error sleep; nobody@ refusals are
// tested elsewhere.
func TestSessionSharedAcrossDomains(t *testing.T) {
	dns, dir := env(t)
	v := verifier(dns)
	addrs := []string{"jane@mailbox.it.test", "jane@shared.it.test", "info@mailbox.it.test"}
	want := map[string]verify.Reason{"jane@mailbox.it.test": verify.ReasonAccepted, "jane@shared.it.test": verify.ReasonAccepted,
		"info@mailbox.it.test": verify.ReasonAccepted}
	before := connects(t, dir, "mailbox")
	for i, r := range v.VerifyAll(t.Context(), addrs) {
		if r.Reason != want[addrs[i]] {
			t.Errorf("%s: %v/%v (%s)", addrs[i], r.Status, r.Reason, r.Error)
		}
	}
	time.Sleep(500 * time.Millisecond)
	if got := connects(t, dir, "mailbox") - before; got != 1 {
		t.Errorf("%d connections for two domains on one server, want 1", got)
	}
}
