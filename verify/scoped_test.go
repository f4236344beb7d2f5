package verify

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/catchall"
	"github.com/mailverify/mailverify/internal/testsmtp"
)

// Evidence is scoped to the connection and the moment that gave it: these
// servers change their answers because of what we asked before.

// counting answers RCPT with answer, given how many recipients this
// connection and the whole server have seen before (0 for the first).
func counting(answer func(addr string, onConn, total int) testsmtp.Reply) *testsmtp.Server {
	var mu sync.Mutex
	perConn := map[int]int{}
	total := 0
	return &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": func(c *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
		mu.Lock()
		n, t := perConn[c.Index], total
		perConn[c.Index]++
		total++
		mu.Unlock()
		return answer(rcptAddress(cmd.Arg), n, t)
	}}}
}

// A host that accepts everyone but refuses, with a reply that names no
// reason, every recipient past the 7th of a connection. Another domain's
// catch-all probe that lands past the cap must not make that domain "not
// catch-all", and addresses past the cap are not mailbox verdicts.
func TestConnectionCapIsNotEvidence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		srv := counting(func(_ string, onConn, _ int) testsmtp.Reply {
			if onConn >= 7 {
				return testsmtp.R(550, "", "Rejected")
			}
			return testsmtp.R(250, "2.1.5", "Ok")
		})
		w.add("first.com", srv)
		w.res.MX["second.com"] = w.res.MX["first.com"]
		v := w.verifier()
		v.Concurrency, v.PerHost = 1, 1
		var addrs []string
		for i := range 9 {
			addrs = append(addrs, fmt.Sprintf("user%d@first.com", i))
		}
		for i := range 12 {
			addrs = append(addrs, fmt.Sprintf("ghost%d@second.com", i))
		}
		for a, r := range verifyAll(t, v, addrs) {
			if r.Status == Deliverable || r.Status == Undeliverable {
				t.Errorf("%s: %v/%v (catch_all %v, %+v); the host accepts everyone up to its cap", a, r.Status, r.Reason, r.CatchAll, r.SMTP)
			}
			if r.CatchAll == catchall.No {
				t.Errorf("%s: catch_all no", a)
			}
		}
		if st, ok := v.detector.Cached("second.com", "mx.first.com"); ok && st == catchall.No {
			t.Error("second.com cached as not catch-all")
		}
	})
}

// A strict host with harvest protection: after five unknown recipients
// it refuses everyone, existing mailboxes too, with a reply that names no
// reason. The mailbox asked after that is not undeliverable.
func TestHarvestProtectionIsNotEvidence(t *testing.T) {
	for _, perConn := range []bool{false, true} {
		t.Run(fmt.Sprintf("per connection %v", perConn), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld()
				defer w.router.close()
				var mu sync.Mutex
				unknown := map[int]int{}
				asked := map[string]int{}
				srv := &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": func(c *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
					mu.Lock()
					defer mu.Unlock()
					k := 0
					if perConn {
						k = c.Index
					}
					a := rcptAddress(cmd.Arg)
					asked[a]++
					switch {
					case unknown[k] >= 5:
						return testsmtp.R(550, "", "Rejected")
					case strings.HasPrefix(a, "real"):
						return testsmtp.R(250, "2.1.5", "Ok")
					}
					unknown[k]++
					return testsmtp.R(550, "", "Rejected")
				}}}
				w.add("strict.com", srv)
				v := w.verifier()
				v.Concurrency, v.PerHost = 1, 1
				addrs := []string{"real0@strict.com"}
				for i := range 6 {
					addrs = append(addrs, fmt.Sprintf("ghost%d@strict.com", i))
				}
				addrs = append(addrs, "real1@strict.com", "real2@strict.com")
				got := verifyAll(t, v, addrs)
				for _, a := range []string{"real1@strict.com", "real2@strict.com"} {
					if r := got[a]; r.Status == Undeliverable {
						t.Errorf("%s exists but is %v/%v (%+v)", a, r.Status, r.Reason, r.SMTP)
					}
				}
				// A refusal of real1 that did not count was asked again
				// (with a control after it, and on a fresh connection), a
				// bounded number of times; accepted at once (a connection
				// the server had not counted five unknowns on, with a
				// refusal that counts after it in its flush), once.
				mu.Lock()
				defer mu.Unlock()
				r, n := got["real1@strict.com"], asked["real1@strict.com"]
				if n < 1 || n > 6 || (n == 1 && r.Status != Deliverable) {
					t.Errorf("real1 asked %d times (%v/%v), want 2 to 6, or once and deliverable", n, r.Status, r.Reason)
				}
			})
		})
	}
}

// A soft limit: honest for the first recipients from us, then 250 for
// everyone. Acceptances after the switch are not deliverable, and neither
// is a catch-all answer from before it enough.
func TestSoftLimitIsNotEvidence(t *testing.T) {
	for _, limit := range []int{1, 2, 3, 5, 8, 13} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld()
				defer w.router.close()
				srv := counting(func(a string, _, total int) testsmtp.Reply {
					if total >= limit || strings.HasPrefix(a, "real") {
						return testsmtp.R(250, "2.1.5", "Ok")
					}
					return testsmtp.R(550, "5.1.1", "User unknown")
				})
				w.add("soft.com", srv)
				v := w.verifier()
				addrs := []string{"real0@soft.com"}
				for i := range 6 {
					addrs = append(addrs, fmt.Sprintf("ghost%d@soft.com", i), fmt.Sprintf("real%d@soft.com", i+1))
				}
				for a, r := range verifyAll(t, v, addrs) {
					if strings.HasPrefix(a, "ghost") && r.Status == Deliverable {
						t.Errorf("%s: deliverable (catch_all %v); the host had begun to accept everyone", a, r.CatchAll)
					}
				}
			})
		})
	}
}

// A greylisting server defers each new (sender, recipient, client)
// triplet once. The random address asked again after an acceptance is the
// one it already knows, so the acceptance does not wait a greylisting
// delay again (it did while each definite answer changed the address,
// and a bulk run of such servers waited out GreylistMaxWait).
func TestTrailingProbeIsNotGreylistedAnew(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		seen := map[string]time.Time{}
		srv := &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": func(_ *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
			mu.Lock()
			defer mu.Unlock()
			a := rcptAddress(cmd.Arg)
			t0, ok := seen[a]
			if !ok {
				t0, seen[a] = time.Now(), time.Now()
			}
			switch {
			case time.Since(t0) < 20*time.Second:
				return testsmtp.R(450, "4.2.0", "Greylisted, try again in 20 seconds")
			case a == "jane@grey.com" || a == "john@grey.com":
				return testsmtp.R(250, "2.1.5", "Ok")
			}
			return testsmtp.R(550, "5.1.1", "User unknown")
		}}}
		w := newWorld()
		defer w.router.close()
		w.add("grey.com", srv)
		v := w.verifier()
		v.GreylistDelay, v.GreylistMaxWait = 21*time.Second, 5*time.Minute
		if r, _ := v.Verify(t.Context(), "jane@grey.com"); r.Status != Deliverable {
			t.Fatalf("first call: %v/%v", r.Status, r.Reason)
		}
		// john's own triplet is deferred once, as it must be; the random
		// address, asked after his acceptance, is not deferred again.
		start := time.Now()
		if r, _ := v.Verify(t.Context(), "john@grey.com"); r.Status != Deliverable {
			t.Errorf("second call: %v/%v", r.Status, r.Reason)
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("second call took %v: more than one greylisting delay", d)
		}
	})
}

// A provider's own consumer domain is known not to be catch-all on the
// provider's hosts only: a backup MX of someone else's that accepts
// everyone is asked like any host.
func TestConsumerShortcutNeedsTheProvidersHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		w.res.MX["gmail.com"] = nil
		w.addHost("gmail.com", "gmail-smtp-in.l.google.com", 5, nil) // nothing listens
		delete(w.router, w.res.IP["gmail-smtp-in.l.google.com"][0].String()+":25")
		w.addHost("gmail.com", "backup.example.net", 50, &testsmtp.Server{}) // accepts everyone
		got := verifyAll(t, w.verifier(), []string{"ghost.nobody.1234@gmail.com"})
		if r := got["ghost.nobody.1234@gmail.com"]; r.Status == Deliverable {
			t.Errorf("accepted by a backup MX that accepts everyone, yet %v/%v (catch_all %v, %+v)", r.Status, r.Reason, r.CatchAll, r.SMTP)
		}
	})
}
