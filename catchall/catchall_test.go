package catchall

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unicode"

	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/smtpprobe"
)

func TestRandomLocalPart(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		l := RandomLocalPart()
		if len(l) < 20 || seen[l] {
			t.Fatalf("local part %q: too short or repeated", l)
		}
		seen[l] = true
		digits := strings.IndexFunc(l, unicode.IsDigit) >= 0
		if !digits || strings.ToLower(l) != l {
			t.Fatalf("local part %q is name-like", l)
		}
	}
}

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
				got, r := d.Check(t.Context(), session(t, srv), "example.com")
				if got != tc.want || r == nil {
					t.Errorf("Check = %v (%v), want %v", got, r, tc.want)
				}
				if _, cached := d.Cached("example.com"); cached != (tc.want != Unknown) {
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
		d.Check(t.Context(), s, "example.com")
		if st, r := d.Check(t.Context(), s, "example.com"); st != Yes || r != nil {
			t.Errorf("second check probed again: %v %v", st, r)
		}
		time.Sleep(2 * time.Minute)
		if _, r := d.Check(t.Context(), s, "example.com"); r == nil {
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
				if st, _ := d.Check(t.Context(), s, "example.com"); st != Yes {
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
	if !KnownNotCatchAll("google") || KnownNotCatchAll("microsoft365") || KnownNotCatchAll("") {
		t.Error("provider table")
	}
	if b, _ := Yes.MarshalText(); string(b) != "yes" || Unknown.String() != "unknown" || No.String() != "no" {
		t.Error("text forms")
	}
}

func TestCacheIsBounded(t *testing.T) {
	var d Detector
	d.cache = map[string]entry{}
	future := time.Now().Add(time.Hour)
	for i := range maxEntries {
		d.cache[fmt.Sprint("d", i, ".example")] = entry{Yes, future}
	}
	d.mu.Lock()
	d.prune()
	d.mu.Unlock()
	if n := len(d.cache); n >= maxEntries || n < maxEntries/2-1 {
		t.Errorf("after prune: %d entries", n)
	}
	for i := range maxEntries + 10 {
		d.probeAddress(fmt.Sprint("p", i, ".example"))
	}
	if len(d.probes) > maxEntries {
		t.Errorf("%d pending probe addresses", len(d.probes))
	}
}
