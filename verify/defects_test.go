package verify

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// Each test here pins one verdict-soundness defect: a definite verdict
// given without evidence about the mailbox from the host that answered.

// addHost gives domain one more MX host, served by srv.
func (w *world) addHost(domain, host string, pref uint16, srv *testsmtp.Server) {
	w.n++
	ip := netip.AddrFrom4([4]byte{127, 0, 2, byte(w.n)})
	w.res.MX[domain] = append(w.res.MX[domain], &net.MX{Host: host, Pref: pref})
	w.res.IP[host] = []netip.Addr{ip}
	w.router[netip.AddrPortFrom(ip, 25).String()] = srv
}

// limitedAfter answers like Mailboxes(known) for the first n RCPTs it
// sees, then rate-limits every connection.
func limitedAfter(n int, known ...string) *testsmtp.Server {
	inner := testsmtp.Mailboxes(known...).Handlers["RCPT"]
	var mu sync.Mutex
	seen := 0
	return &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": func(c *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
		mu.Lock()
		seen++
		over := seen > n
		mu.Unlock()
		if over {
			return testsmtp.R(450, "4.7.1", "Rate limit exceeded, slow down")
		}
		return inner(c, cmd)
	}}}
}

func verifyAll(t *testing.T, v *Verifier, addrs []string) map[string]Result {
	t.Helper()
	out := map[string]Result{}
	for i, r := range v.VerifyAll(t.Context(), addrs) {
		out[addrs[i]] = r
	}
	if len(out) != len(addrs) {
		t.Fatalf("%d results for %d addresses", len(out), len(addrs))
	}
	return out
}

// Defect 1: a catch-all answer from one MX host applied to another.
func TestCatchAllAnswerIsPerHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		w.res.MX["acme.com"] = nil
		w.addHost("acme.com", "mx1.acme.com", 10, limitedAfter(12, "jane@acme.com"))
		w.addHost("acme.com", "backup.acme.net", 20, &testsmtp.Server{}) // accepts everyone
		v := w.verifier()
		addrs := []string{"jane@acme.com"}
		for i := range 20 {
			addrs = append(addrs, fmt.Sprintf("ghost%d@acme.com", i))
		}
		for a, r := range verifyAll(t, v, addrs) {
			if a != "jane@acme.com" && r.Status == Deliverable {
				t.Errorf("%s: deliverable (host %v, catch_all %v) although it does not exist", a, r.SMTP, r.CatchAll)
			}
			if r.SMTP != nil && r.SMTP.Host == "backup.acme.net" && r.Reason != ReasonCatchAll {
				t.Errorf("%s: accepted by the catch-all backup but %v", a, r.Reason)
			}
		}
		// A long-lived Verifier: the primary's "not catch-all" stays the
		// primary's.
		r, _ := v.Verify(t.Context(), "ghost99@acme.com")
		if r.Status == Deliverable {
			t.Errorf("later call: ghost deliverable via %v", r.SMTP)
		}
	})
}

// Defect 2: a rejection that names no reason is not "no such mailbox"
// unless the same host told recipients apart.
func TestUnexplainedRejections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		w.add("policy.com", &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": reply(550, "", "Rejected")}})
		w.add("generic.com", &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": func(_ *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
			if strings.Contains(cmd.Arg, "<jane@") {
				return testsmtp.R(250, "2.1.5", "Ok")
			}
			return testsmtp.R(550, "", "Rejected")
		}}})
		w.add("sender.com", &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": reply(550, "5.1.7", "Invalid sender address")}})
		w.add("limit.com", &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": reply(552, "", "Too many recipients")}})
		w.add("helo.com", &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": reply(550, "", "Invalid HELO name")}})
		w.add("x00.com", &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": reply(550, "5.0.0", "Requested action not taken")}})
		w.add("full.com", &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": acceptsPostmaster(reply(452, "4.2.2", "Mailbox full, try again later"))}})
		v := w.verifier()
		got := verifyAll(t, v, []string{"jane@policy.com", "bob@policy.com", "jane@generic.com", "ghost@generic.com",
			"jane@sender.com", "jane@limit.com", "jane@helo.com", "jane@x00.com", "jane@full.com"})
		for _, tc := range []struct {
			addr   string
			status Status
			reason Reason
		}{
			{"jane@policy.com", Unknown, ReasonBlocked},
			{"bob@policy.com", Unknown, ReasonBlocked},
			{"jane@generic.com", Deliverable, ReasonAccepted}, // the random address was refused where jane was not
			{"ghost@generic.com", Undeliverable, ReasonMailboxNotFound},
			{"jane@sender.com", Unknown, ReasonBlocked},
			{"jane@limit.com", Unknown, ReasonRateLimited},
			{"jane@helo.com", Unknown, ReasonBlocked},
			{"jane@x00.com", Unknown, ReasonBlocked},
			{"jane@full.com", Risky, ReasonMailboxFull}, // defect 3: the code outranks "try again later"
		} {
			if r := got[tc.addr]; r.Status != tc.status || r.Reason != tc.reason {
				t.Errorf("%s: %v/%v (%+v), want %v/%v", tc.addr, r.Status, r.Reason, r.SMTP, tc.status, tc.reason)
			}
		}
	})
}

// Defect 4: provider shortcuts only for the providers' own consumer
// domains, judged from the most-preferred MX.
func TestProviderShortcutsNeedConsumerDomains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		workspace := &testsmtp.Server{} // a Workspace domain routing everyone to a catch-all mailbox
		w.res.MX["acme.com"] = nil
		w.addHost("acme.com", "aspmx.l.google.com", 1, workspace)
		backupOnly := &testsmtp.Server{}
		w.res.MX["beta.com"] = nil
		w.addHost("beta.com", "mx.beta.com", 10, backupOnly)
		w.addHost("beta.com", "alt1.aspmx.l.google.com", 20, &testsmtp.Server{})
		gmail := testsmtp.Mailboxes("jane@gmail.com")
		w.res.MX["gmail.com"] = nil
		w.res.MX["gmail.com"] = nil
		w.addHost("gmail.com", "gmail-smtp-in.l.google.com", 5, gmail)
		w.res.MX["gmail.com"] = []*net.MX{{Host: "gmail-smtp-in.l.google.com", Pref: 5}}
		v := w.verifier()
		got := verifyAll(t, v, []string{"jane@acme.com", "jane@beta.com", "jane@gmail.com"})
		if r := got["jane@acme.com"]; r.Reason != ReasonCatchAll || r.Provider != "google" {
			t.Errorf("Workspace catch-all: %v/%v provider %q", r.Status, r.Reason, r.Provider)
		}
		if r := got["jane@beta.com"]; r.Reason != ReasonCatchAll || r.Provider != "" {
			t.Errorf("Google only as backup: %v/%v provider %q", r.Status, r.Reason, r.Provider)
		}
		if r := got["jane@gmail.com"]; r.Status != Deliverable || gmail.Count("RCPT") != 1 {
			t.Errorf("gmail.com: %v/%v with %d RCPTs; want deliverable with no probe", r.Status, r.Reason, gmail.Count("RCPT"))
		}
	})
}

// Defect 5: a server that judges only the first RCPT of a connection.
func TestFirstRcptOnlyServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		srv := testsmtp.FirstRcptOnly("jane@tenant.com", "john@tenant.com")
		w.add("tenant.com", srv)
		v := w.verifier()
		got := verifyAll(t, v, []string{"jane@tenant.com", "ghost@tenant.com", "john@tenant.com"})
		want := map[string]Reason{"jane@tenant.com": ReasonAccepted, "ghost@tenant.com": ReasonMailboxNotFound, "john@tenant.com": ReasonAccepted}
		for a, reason := range want {
			if got[a].Reason != reason {
				t.Errorf("%s: %v/%v, want %v", a, got[a].Status, got[a].Reason, reason)
			}
		}
		// Learned for the host: the next call wastes no RCPT on 452. The
		// acceptance, first on its connection, and the random address
		// after it, first on the next (a cached "not catch-all" does not
		// show the server still tells recipients apart).
		before := srv.Count("RCPT")
		if r, _ := v.Verify(t.Context(), "jane@tenant.com"); r.Status != Deliverable {
			t.Errorf("second call: %v/%v", r.Status, r.Reason)
		}
		if n := srv.Count("RCPT") - before; n != 2 {
			t.Errorf("second call: %d RCPTs, want 2 (one recipient per connection)", n)
		}
	})
}

// Defect 6: a catch-all server that refuses the Nth RCPT.
func TestCatchAllWithRecipientLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		w.add("big.com", &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": func(c *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
			if c.Rcpts >= 10 {
				return testsmtp.R(550, "", "Too many recipients")
			}
			return testsmtp.R(250, "2.1.5", "Ok")
		}}})
		v := w.verifier()
		var addrs []string
		for i := range 25 {
			addrs = append(addrs, fmt.Sprintf("user%d@big.com", i))
		}
		for a, r := range verifyAll(t, v, addrs) {
			if r.Status != Risky || r.Reason != ReasonCatchAll {
				t.Errorf("%s: %v/%v (%+v), want risky/catch_all", a, r.Status, r.Reason, r.SMTP)
			}
		}
	})
}

// Defect 7: PIPELINING advertised but broken.
func TestBrokenPipelining(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		known := []string{"a0@slow.com", "a3@slow.com", "a7@slow.com", "a11@slow.com"}
		srv := testsmtp.Mailboxes(known...)
		srv.OneCommandPerRead = true
		w.add("slow.com", srv)
		v := w.verifier()
		var addrs []string
		for i := range 14 {
			addrs = append(addrs, fmt.Sprintf("a%d@slow.com", i))
		}
		start := time.Now()
		got := verifyAll(t, v, addrs)
		for _, a := range addrs {
			want := ReasonMailboxNotFound
			for _, k := range known {
				if a == k {
					want = ReasonAccepted
				}
			}
			if got[a].Reason != want {
				t.Errorf("%s: %v, want %v", a, got[a].Reason, want)
			}
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("took %v", d)
		}
	})
}

// Defect 8: greylisting that the defaults never retry.
func TestRealisticGreylisting(t *testing.T) {
	greylister := func(delay time.Duration, text string) *testsmtp.Server {
		var mu sync.Mutex
		first := map[string]time.Time{}
		return &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": func(_ *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
			mu.Lock()
			defer mu.Unlock()
			a := strings.ToLower(cmd.Arg)
			t0, ok := first[a]
			if !ok {
				first[a], t0 = time.Now(), time.Now()
			}
			if time.Since(t0) < delay {
				return testsmtp.R(450, "4.2.0", text)
			}
			if strings.Contains(a, "<jane@") {
				return testsmtp.R(250, "2.1.5", "Ok")
			}
			return testsmtp.R(550, "5.1.1", "User unknown")
		}}}
	}
	for _, tc := range []struct {
		name     string
		delay    time.Duration
		text     string
		budget   time.Duration
		status   Status
		reason   Reason
		maxRetry time.Duration // retry_after at most this, when greylisted
	}{
		{"postgrey 300s, 10m budget", 300 * time.Second, "Greylisted, see http://postgrey.schweikert.ch/help/grey.com.html", 10 * time.Minute, Deliverable, ReasonAccepted, 0},
		{"30s, the CLI's 1m budget", 30 * time.Second, "Greylisted", time.Minute, Deliverable, ReasonAccepted, 0},
		{"stated 5 minutes, 10m budget", 5 * time.Minute, "Greylisted, try again in 5 minutes", 10 * time.Minute, Deliverable, ReasonAccepted, 0},
		{"stated 5 minutes, 2m budget", 5 * time.Minute, "Greylisted, try again in 5 minutes", 2 * time.Minute, Unknown, ReasonGreylisted, 5*time.Minute + time.Second},
		{"postgrey 300s, 1m budget", 300 * time.Second, "Greylisted", time.Minute, Unknown, ReasonGreylisted, 10 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld()
				defer w.router.close()
				w.add("grey.com", greylister(tc.delay, tc.text))
				v := w.verifier()
				v.GreylistDelay, v.GreylistMaxWait = 0, 0 // the defaults
				ctx, cancel := context.WithTimeout(t.Context(), tc.budget)
				defer cancel()
				start := time.Now()
				r, err := v.Verify(ctx, "jane@grey.com")
				if err != nil {
					t.Fatal(err)
				}
				if r.Status != tc.status || r.Reason != tc.reason {
					t.Errorf("%v/%v, want %v/%v", r.Status, r.Reason, tc.status, tc.reason)
				}
				if d := time.Since(start); d > tc.budget {
					t.Errorf("took %v, past the %v budget", d, tc.budget)
				}
				if tc.status == Unknown && (r.RetryAfter <= 0 || time.Duration(r.RetryAfter) > tc.maxRetry) {
					t.Errorf("retry_after %v, want in (0, %v]", time.Duration(r.RetryAfter), tc.maxRetry)
				}
			})
		})
	}
}

// Defect 9: deadlines honoured whatever the server does.
func TestSignupBudgetAgainstHangingProbeAndQuit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		hang := func(_ *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
			if strings.Contains(cmd.Arg, "<jane@") {
				return testsmtp.R(250, "2.1.5", "Ok")
			}
			return testsmtp.Reply{Hang: true} // the random catch-all address
		}
		w.add("hang.com", &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": hang,
			"QUIT": func(*testsmtp.Conn, testsmtp.Command) testsmtp.Reply { return testsmtp.Reply{Hang: true} }}})
		v := w.verifier()
		v.CommandTimeout = time.Minute
		// A first caller starts the catch-all probe and holds it.
		var wg sync.WaitGroup
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			v.Verify(ctx, "jane@hang.com")
		})
		time.Sleep(time.Second)
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		start := time.Now()
		r, err := v.Verify(ctx, "jane@hang.com")
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 3*time.Second+100*time.Millisecond {
			t.Errorf("a 3s budget returned after %v", d)
		}
		if r.Status == Deliverable {
			t.Errorf("deliverable without a catch-all answer")
		}
		wg.Wait()
	})
}

// A host that refuses every recipient alike passes them to the next host,
// whose answers are about the mailboxes.
func TestPolicyRefusalFailsOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		w.res.MX["two.com"] = nil
		w.addHost("two.com", "mx1.two.com", 10, &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": reply(550, "", "Rejected")}})
		w.addHost("two.com", "mx2.two.com", 20, testsmtp.Mailboxes("jane@two.com"))
		got := verifyAll(t, w.verifier(), []string{"jane@two.com", "ghost@two.com"})
		if r := got["jane@two.com"]; r.Status != Deliverable || r.SMTP.Host != "mx2.two.com" {
			t.Errorf("jane: %v/%v via %+v", r.Status, r.Reason, r.SMTP)
		}
		if r := got["ghost@two.com"]; r.Reason != ReasonMailboxNotFound || r.SMTP.Host != "mx2.two.com" {
			t.Errorf("ghost: %v/%v via %+v", r.Status, r.Reason, r.SMTP)
		}
	})
}

// A server that drops pipelined commands costs seconds once, not a command
// timeout per batch, even with the catch-all probes in the batch's flush.
func TestBrokenPipeliningIsFoundQuickly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		srv := testsmtp.Mailboxes("a@one.com", "b@two.com")
		srv.OneCommandPerRead = true
		w.add("one.com", srv)
		w.res.MX["two.com"] = w.res.MX["one.com"]
		v := w.verifier()
		v.CommandTimeout = 0 // the default 30 s
		start := time.Now()
		got := verifyAll(t, v, []string{"a@one.com", "x@one.com", "b@two.com", "y@two.com"})
		if got["a@one.com"].Status != Deliverable || got["b@two.com"].Status != Deliverable || got["x@one.com"].Reason != ReasonMailboxNotFound {
			t.Errorf("verdicts: %+v", got)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("took %v", d)
		}
	})
}
