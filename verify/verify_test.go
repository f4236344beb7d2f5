package verify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/catchall"
	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/syntax"
)

func TestVerifyEveryReason(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		status Status
		reason Reason
		tweak  func(*Verifier)
	}{
		{"jane@example.com", Deliverable, ReasonAccepted, nil},
		{"not an address", Undeliverable, ReasonInvalidSyntax, nil},
		{"jane@missing.com", Undeliverable, ReasonDomainNotFound, nil},
		{"jane@nomail.com", Undeliverable, ReasonNoMailServer, nil},
		{"jane@nullmx.com", Undeliverable, ReasonNullMX, nil},
		{"jane@private.com", Undeliverable, ReasonUnroutableMX, func(v *Verifier) { v.AllowPrivate = false }},
		{"nobody@example.com", Undeliverable, ReasonMailboxNotFound, nil},
		{"jane@disabled.com", Undeliverable, ReasonMailboxDisabled, nil},
		{"jane@rejects.com", Undeliverable, ReasonDomainRejectsMail, nil},
		{"jane@catchall.com", Risky, ReasonCatchAll, nil},
		{"jane@full.com", Risky, ReasonMailboxFull, nil},
		{"jane@mailinator.com", Risky, ReasonDisposable, nil},
		{"jane@gmial.com", Risky, ReasonPossibleTypo, nil},
		{"jane@cannot.com", Unknown, ReasonCannotVerify, nil},
		{"jane@yahoo.com", Unknown, ReasonCannotVerify, nil},
		{"jane@grey.com", Unknown, ReasonGreylisted, nil},
		{"jane@ratelimit.com", Unknown, ReasonRateLimited, nil},
		{"jane@tempfail.com", Unknown, ReasonTemporaryFailure, nil},
		{"jane@tarpit.com", Unknown, ReasonTimeout, func(v *Verifier) { v.CommandTimeout = time.Second }},
		{"jane@closed.com", Unknown, ReasonConnectionFailed, nil},
		{"jane@blocked.com", Unknown, ReasonBlocked, nil},
		{"jane@servfail.com", Unknown, ReasonDNSError, nil},
		{"jane@example.com", Unknown, ReasonTLSError, func(v *Verifier) { v.TLS = 2 /* smtpprobe.TLSRequired */ }},
		{"jane@garbage.com", Unknown, ReasonProtocolError, nil},
		{"jane@example.com", Unknown, ReasonSMTPNotChecked, func(v *Verifier) { v.SkipSMTP = true }},
		{"jane@example.com", Unknown, ReasonSMTPNotChecked, func(v *Verifier) { v.Offline = true }},
		{"jane@gmial.com", Risky, ReasonPossibleTypo, func(v *Verifier) { v.Offline = true }},
		{"jörg@noutf8.com", Unknown, ReasonSMTPUTF8Unsupported, nil},
	} {
		t.Run(string(tc.reason)+"/"+tc.addr, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := standardWorld()
				defer w.router.close()
				v := w.verifier()
				if tc.tweak != nil {
					tc.tweak(v)
				}
				r, err := v.Verify(t.Context(), tc.addr)
				if err != nil {
					t.Fatal(err)
				}
				if r.Status != tc.status || r.Reason != tc.reason {
					t.Errorf("Verify(%q) = %v/%v (err %v, smtp %+v), want %v/%v", tc.addr, r.Status, r.Reason, r.Err, r.SMTP, tc.status, tc.reason)
				}
			})
		})
	}
}

func TestVerifyResultDetails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := standardWorld()
		defer w.router.close()
		v := w.verifier()
		v.Transcript = true
		r, _ := v.Verify(t.Context(), "Info@Example.COM")
		if r.Status != Deliverable || r.Address != "Info@example.com" || !r.RoleAccount || r.CatchAll != catchall.No {
			t.Errorf("info@: %+v", r)
		}
		if r.SMTP == nil || r.SMTP.Code != 250 || r.SMTP.Host != "mx.example.com" || len(r.MXHosts) != 1 {
			t.Errorf("evidence: %+v %v", r.SMTP, r.MXHosts)
		}
		if len(r.Transcript) == 0 || !strings.Contains(strings.Join(r.Transcript, "\n"), "RCPT TO:<Info@example.com>") {
			t.Errorf("transcript: %q", r.Transcript)
		}
		var tap strings.Builder
		v2 := w.verifier()
		v2.Transcript, v2.TranscriptWriter = true, &tap
		r, _ = v2.Verify(t.Context(), "nobody@example.com")
		if !strings.Contains(strings.Join(r.Transcript, "\n"), "nobody@example.com") || strings.Contains(tap.String(), "nobody@") || !strings.Contains(tap.String(), "RCPT TO:<***@example.com>") {
			t.Errorf("transcript %q, tap %q", r.Transcript, tap.String())
		}
		r, _ = v.Verify(t.Context(), "jane+news@example.com")
		if !r.Subaddress || r.RoleAccount {
			t.Errorf("subaddress flags: %+v", r)
		}
		r, _ = v.Verify(t.Context(), "jane@gmail.com")
		if r.Status != Deliverable || r.Provider != "google" || !r.FreeProvider || r.CatchAll != catchall.No {
			t.Errorf("gmail: %+v", r)
		}
		r, _ = v.Verify(t.Context(), "jane@gmial.com")
		if r.Suggestion != "gmail.com" {
			t.Errorf("suggestion %q", r.Suggestion)
		}
		r, _ = v.Verify(t.Context(), "jane@grey.com")
		if r.RetryAfter <= 0 {
			t.Errorf("greylisted without retry_after: %+v", r)
		}
		r, _ = v.Verify(t.Context(), "bad@@example.com")
		var se *syntax.Error
		if !errors.As(r.Err, &se) || !errors.Is(r.Err, syntax.ErrManyAt) {
			t.Errorf("syntax error not kept: %v", r.Err)
		}
	})
}

// TestVerifyGreylistRetry checks that a greylisted address is retried on a
// new session after the delay, within the caller's budget.
func TestVerifyGreylistRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := standardWorld()
		defer w.router.close()
		v := w.verifier()
		v.GreylistDelay, v.GreylistMaxWait = time.Minute, 10*time.Minute
		start := time.Now()
		r, _ := v.Verify(t.Context(), "jane@grey.com")
		if r.Status != Risky || r.Reason != ReasonCatchAll || r.CatchAll != catchall.Yes { // the greylist preset accepts everyone after the delay
			t.Errorf("after the retry: %v/%v", r.Status, r.Reason)
		}
		if el := time.Since(start); el < time.Minute || el > 3*time.Minute {
			t.Errorf("retry after %v", el)
		}
		// A caller whose deadline leaves no room for the delay gets
		// greylisted at once, with retry_after: the delay the first
		// address taught (a minute, and the retry's round trip).
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		r, _ = v.Verify(ctx, "other@grey.com")
		if ra := time.Duration(r.RetryAfter); r.Reason != ReasonGreylisted || ra < time.Minute || ra > time.Minute+time.Second {
			t.Errorf("short deadline: %v, retry_after %v", r.Reason, time.Duration(r.RetryAfter))
		}
	})
}

// TestSignupDeadline is the signup-handler case: a 2 s budget against a
// tarpit returns unknown/timeout within the deadline plus 100 ms.
func TestSignupDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := standardWorld()
		defer w.router.close()
		v := w.verifier()
		v.CommandTimeout = time.Minute
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		start := time.Now()
		r, err := v.Verify(ctx, "jane@tarpit.com")
		if err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el > 2*time.Second+100*time.Millisecond {
			t.Errorf("took %v", el)
		}
		if r.Status != Unknown || r.Reason != ReasonTimeout {
			t.Errorf("%v/%v", r.Status, r.Reason)
		}
	})
}

func TestOfflineTouchesNoNetwork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := standardWorld()
		defer w.router.close()
		v := w.verifier()
		v.Offline = true
		for range v.VerifyAll(t.Context(), []string{"jane@example.com", "x@catchall.com", "bad"}) {
		}
		if n := w.res.Queries("MX", "example.com") + w.res.Queries("MX", "catchall.com"); n != 0 {
			t.Errorf("offline verification made %d DNS queries", n)
		}
		if c := w.router["127.0.1.1:25"].Connections(); c != 0 {
			t.Errorf("offline verification made %d SMTP connections", c)
		}
	})
}

func TestVerifyErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := (&Verifier{}).Verify(ctx, "a@example.com"); !errors.Is(err, context.Canceled) {
		t.Errorf("done context: %v", err)
	}
	if _, err := (&Verifier{Port: 70000}).Verify(t.Context(), "a@example.com"); !errors.Is(err, ErrConfig) {
		t.Errorf("bad port: %v, want ErrConfig", err)
	}
}

func TestVerifyAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := standardWorld()
		defer w.router.close()
		v := w.verifier()
		addrs := []string{"jane@example.com", "bad", "nobody@example.com", "x@catchall.com", "jane@mailinator.com", "y@catchall.com", "info@example.com"}
		seen := map[int]Result{}
		for i, r := range v.VerifyAll(t.Context(), addrs) {
			if _, dup := seen[i]; dup {
				t.Fatalf("index %d twice", i)
			}
			if r.Input != addrs[i] {
				t.Fatalf("index %d carries input %q", i, r.Input)
			}
			seen[i] = r
		}
		if len(seen) != len(addrs) {
			t.Fatalf("%d results for %d inputs", len(seen), len(addrs))
		}
		want := []Reason{ReasonAccepted, ReasonInvalidSyntax, ReasonMailboxNotFound, ReasonCatchAll, ReasonDisposable, ReasonCatchAll, ReasonAccepted}
		for i, r := range want {
			if seen[i].Reason != r {
				t.Errorf("%s: %v, want %v", addrs[i], seen[i].Reason, r)
			}
		}
		srv := w.router["127.0.1.1:25"]
		// One session and one transaction: the catch-all probe opens it,
		// as its first recipient, the addresses follow, and the random
		// address goes once more after info@ (accepted after the last
		// refusal), in the same transaction.
		if srv.Connections() != 1 || srv.Count("MAIL") != 1 {
			t.Errorf("example.com: %d connections, %d MAIL for 3 addresses; want 1 and 1", srv.Connections(), srv.Count("MAIL"))
		}
		// Breaking out early cancels the rest without leaking goroutines
		// (synctest fails the test if any is left).
		for range v.VerifyAll(t.Context(), addrs) {
			break
		}
	})
}

func ExampleVerifier_Verify() {
	// A fake DNS and a scripted SMTP server stand in for the Internet; the
	// zero Verifier uses /etc/resolv.conf and port 25.
	w := newWorld()
	w.add("example.com", testsmtp.Mailboxes("jane@example.com"))
	defer w.router.close()
	v := &Verifier{Resolver: w.res, Dialer: w.router, AllowPrivate: true, HELO: "verifier.example.net"}
	for _, a := range []string{"jane@example.com", "john@example.com", "jane@example..com"} {
		r, err := v.Verify(context.Background(), a)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(a, r.Status, r.Reason)
	}
	// Output:
	// jane@example.com deliverable accepted
	// john@example.com undeliverable mailbox_not_found
	// jane@example..com undeliverable invalid_syntax
}

// TestCatchAllProbeGreylisted covers a domain whose real address is
// accepted at once while the catch-all probe is greylisted: the probe is
// asked again after the delay, and the verdict waits for it.
func TestCatchAllProbeGreylisted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Greylisting by address: refused for 30 s from the first try
		// (the canary at the end of the batch's flush is the same random
		// address as the probe before it, and greylisted too).
		seen := map[string]time.Time{}
		srv := &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": func(_ *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
			if _, ok := seen[cmd.Arg]; !ok {
				seen[cmd.Arg] = time.Now()
			}
			switch {
			case strings.Contains(cmd.Arg, "<jane@"):
				return testsmtp.R(250, "2.1.5", "Ok")
			case time.Since(seen[cmd.Arg]) < 30*time.Second:
				return testsmtp.R(450, "4.2.0", "Greylisted")
			}
			return testsmtp.R(550, "5.1.1", "User unknown")
		}}}
		w := newWorld()
		w.add("probe.com", srv)
		defer w.router.close()
		v := w.verifier()
		v.GreylistDelay, v.GreylistMaxWait = time.Minute, 10*time.Minute
		r, _ := v.Verify(t.Context(), "jane@probe.com")
		if r.Status != Deliverable || r.CatchAll != catchall.No || srv.Connections() != 2 {
			t.Errorf("%v/%v catch_all %v after %d connections; want deliverable, no, 2", r.Status, r.Reason, r.CatchAll, srv.Connections())
		}
	})
}

func TestHostStateIsBounded(t *testing.T) {
	v := &Verifier{}
	v.init()
	old := time.Now().Add(-time.Hour)
	for i := range maxHosts {
		v.server(fmt.Sprintf("192.0.2.%d:%d", i%250, i))
		v.hosts[fmt.Sprintf("192.0.2.%d:%d", i%250, i)].last = old
	}
	busy := v.server("192.0.2.1:1").limit.sessions
	busy.Acquire(t.Context(), 1) // an open session keeps its entry
	v.hosts["192.0.2.1:1"].last = old
	v.server("198.51.100.1:25")
	if n := len(v.hosts); n != 2 {
		t.Errorf("%d host entries after pruning, want the busy one and the new one", n)
	}
}

// TestVerifyAllStreamsLargeDomains checks that a domain's results come out
// batch by batch, not all when the domain is done.
func TestVerifyAllStreamsLargeDomains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		w.add("big.com", testsmtp.Mailboxes("user0@big.com"))
		defer w.router.close()
		v := w.verifier() // 10 RCPTs per second per host by default
		var addrs []string
		for i := range 40 {
			addrs = append(addrs, fmt.Sprintf("user%d@big.com", i))
		}
		start := time.Now()
		var first, last time.Duration
		n := 0
		for _, r := range v.VerifyAll(t.Context(), addrs) {
			if r.Reason != ReasonAccepted && r.Reason != ReasonMailboxNotFound {
				t.Errorf("%s: %v", r.Input, r.Reason)
			}
			if n == 0 {
				first = time.Since(start)
			}
			last = time.Since(start)
			n++
		}
		if n != 40 || first > last/2 {
			t.Errorf("%d results; first after %v, last after %v: not streamed", n, first, last)
		}
	})
}
