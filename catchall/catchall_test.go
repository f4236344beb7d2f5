package catchall

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/smtpprobe"
)

func session(t *testing.T, srv *testsmtp.Server) *smtpprobe.Session {
	s, err := (&smtpprobe.Prober{Dialer: srv, HELO: "verifier.example.net"}).Open(t.Context(), "mx", "192.0.2.25:25")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		srv  func() *testsmtp.Server
		want Status
	}{
		{"accept all", func() *testsmtp.Server { return &testsmtp.Server{} }, Yes},
		{"mailboxes", func() *testsmtp.Server { return testsmtp.Mailboxes("jane@example.com") }, No},
		{"greylist", testsmtp.Greylist, Unknown},
		{"252", testsmtp.CannotVerify, Yes},
		{"drop", func() *testsmtp.Server {
			return &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": func(*testsmtp.Conn, testsmtp.Command) testsmtp.Reply {
				return testsmtp.Reply{Drop: true}
			}}}
		}, Unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := tc.srv()
				defer srv.Close()
				var d Detector
				got, r := d.Check(t.Context(), session(t, srv), "example.com", "mx.example.com")
				if got != tc.want || r == nil {
					t.Errorf("Check = %v (%v), want %v", got, r, tc.want)
				}
				if _, cached := d.Cached("example.com", "mx.example.com"); cached != (tc.want != Unknown) {
					t.Errorf("cached = %v for %v", cached, tc.want)
				}
			})
		})
	}
}

func TestCheckCachesPerTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &testsmtp.Server{}
		defer srv.Close()
		d := &Detector{TTL: time.Minute}
		s := session(t, srv)
		d.Check(t.Context(), s, "example.com", "mx.example.com")
		if st, r := d.Check(t.Context(), s, "example.com", "mx.example.com"); st != Yes || r != nil {
			t.Errorf("second check probed again: %v %v", st, r)
		}
		time.Sleep(2 * time.Minute)
		if _, r := d.Check(t.Context(), s, "example.com", "mx.example.com"); r == nil {
			t.Error("expired answer not probed again")
		}
		if n := srv.Count("RCPT"); n != 2 {
			t.Errorf("%d probes, want 2", n)
		}
	})
}

func TestCheckSharesConcurrentProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &testsmtp.Server{ReplyDelay: time.Second}
		defer srv.Close()
		var d Detector
		var wg sync.WaitGroup
		for range 5 {
			s := session(t, srv)
			wg.Go(func() {
				if st, _ := d.Check(t.Context(), s, "example.com", "mx.example.com"); st != Yes {
					t.Errorf("status %v", st)
				}
			})
		}
		wg.Wait()
		if n := srv.Count("RCPT"); n > 2 {
			t.Errorf("%d probes for 5 concurrent checks", n)
		}
	})
}

func TestKnownNotCatchAll(t *testing.T) {
	for _, tc := range []struct {
		domain, provider string
		want             bool
	}{
		{"gmail.com", "google", true},
		{"googlemail.com", "google", true},
		{"acme-corp.com", "google", false}, // Workspace: may be catch-all
		{"gmail.com", "", false},           // provider not from the primary MX
		{"gmail.com", "microsoft365", false},
		{"hotmail.co.uk", "outlook", true},
		{"outlook.com", "outlook", true},
		{"live.example.com", "outlook", false},
		{"contoso.com", "microsoft365", false},
		{"zoho.com", "zoho", true},
		{"customer.in", "zoho", false},
		{"gmx.de", "gmx", true},
		{"web.de", "gmx", true},
		{"icloud.com", "icloud", true},
		{"me.example", "icloud", false},
	} {
		if got := KnownNotCatchAll(tc.domain, tc.provider); got != tc.want {
			t.Errorf("KnownNotCatchAll(%q, %q) = %v, want %v", tc.domain, tc.provider, got, tc.want)
		}
	}
	if b, _ := Yes.MarshalText(); string(b) != "yes" || Unknown.String() != "unknown" || No.String() != "no" {
		t.Error("text forms")
	}
}

func TestCacheIsBounded(t *testing.T) {
	var d Detector
	d.cache = map[key]entry{}
	future := time.Now().Add(time.Hour)
	for i := range maxEntries {
		d.cache[key{fmt.Sprint("d", i, ".example"), "mx"}] = entry{Yes, future}
	}
	d.mu.Lock()
	d.prune()
	d.mu.Unlock()
	if n := len(d.cache); n >= maxEntries || n < maxEntries/2-1 {
		t.Errorf("after prune: %d entries", n)
	}
	for i := range maxEntries + 10 {
		q := Question{Domain: fmt.Sprint("p", i, ".example"), Host: "mx"}
		a := d.probeAddress(q)
		d.settle(key{q.Domain, q.Host}, &smtpprobe.Result{Address: a, Outcome: smtpprobe.Greylisted, Reply: &smtpprobe.Reply{Code: 450}}, Unknown)
	}
	if len(d.probes) > maxEntries {
		t.Errorf("%d pending probe addresses", len(d.probes))
	}
}

func TestCheckIsPerHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		strict, open := testsmtp.Mailboxes("jane@example.com"), &testsmtp.Server{}
		defer strict.Close()
		defer open.Close()
		var d Detector
		if st, _ := d.Check(t.Context(), session(t, strict), "example.com", "mx1.example.com"); st != No {
			t.Fatalf("primary: %v", st)
		}
		if st, r := d.Check(t.Context(), session(t, open), "example.com", "backup.example.net"); st != Yes || r == nil {
			t.Errorf("backup answered from the primary's cache: %v %v", st, r)
		}
	})
}

func TestCheckWaiterHonoursItsDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": func(*testsmtp.Conn, testsmtp.Command) testsmtp.Reply {
			return testsmtp.Reply{Code: 250, Lines: []string{"Ok"}, Delay: 20 * time.Second}
		}}}
		defer srv.Close()
		var d Detector
		s1, s2 := session(t, srv), session(t, srv)
		var wg sync.WaitGroup
		wg.Go(func() { d.Check(t.Context(), s1, "example.com", "mx") })
		synctest.Wait()
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		if st, r := d.Check(ctx, s2, "example.com", "mx"); st != Unknown || r != nil {
			t.Errorf("waiter got %v %v", st, r)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("waiter waited %v past its 1s deadline", d)
		}
		wg.Wait()
	})
}

func TestGenericRejectionOfTheProbeIsNotNo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": func(*testsmtp.Conn, testsmtp.Command) testsmtp.Reply {
			return testsmtp.R(550, "", "Too many recipients")
		}}}
		defer srv.Close()
		var d Detector
		if st, _ := d.Check(t.Context(), session(t, srv), "example.com", "mx"); st != Unknown {
			t.Errorf("a recipient-limit refusal of the probe read as %v", st)
		}
	})
}
