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

// Found by an adversarial review of issue #22 (soundness, round 3). Every
// server here is honest whenever it names a mailbox (250 for an existing
// one or for any address of a catch-all domain, 5.1.1 for an unknown
// one); its other refusals are a generic "550 Rejected".

// A host serves cat.com (catch-all: every address is accepted, but for a
// disabled account, 5.2.1) and strict.com (5.1.1 for unknown recipients),
// with harvest protection across connections: after an unknown recipient
// from a client it refuses everyone with "550 Rejected" for 30 s. Per the
// contract the switch goes one way across the connections of a run, so
// cat.com's random address refused first on a fresh connection while the
// protection is on says nothing about cat.com; it must not make cat.com
// "not catch-all", in this call or a later one on the same Verifier.
func TestHarvestOnAFreshConnectionIsNotCatchAllEvidence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		var mu sync.Mutex
		var harvested time.Time
		srv := &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": func(_ *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
			mu.Lock()
			defer mu.Unlock()
			a := rcptAddress(cmd.Arg)
			switch {
			case !harvested.IsZero() && time.Since(harvested) < 30*time.Second:
				return testsmtp.R(550, "", "Rejected")
			case a == "former@cat.com":
				return testsmtp.R(550, "5.2.1", "The email account that you tried to reach is disabled")
			case strings.HasSuffix(a, "@cat.com") || a == "jane@strict.com":
				return testsmtp.R(250, "2.1.5", "Ok")
			}
			harvested = time.Now()
			return testsmtp.R(550, "5.1.1", "<"+a+">: Recipient address rejected: User unknown")
		}}}
		w.add("strict.com", srv)
		w.res.MX["cat.com"] = w.res.MX["strict.com"]
		v := w.verifier()
		// 1: an unknown strict.com recipient turns the protection on.
		verifyAll(t, v, []string{"ghost@strict.com"})
		// 2: cat.com's random address, first on a fresh connection, is
		// refused by the protection.
		verifyAll(t, v, []string{"x@cat.com"})
		if st, ok := v.detector.Cached("cat.com", "mx.strict.com"); ok && st == catchall.No {
			t.Errorf("cat.com (catch-all) cached as not catch-all at mx.strict.com after a refusal by harvest protection")
		}
		time.Sleep(31 * time.Second) // the protection ends
		// 3: a nonexistent cat.com address, then the disabled account.
		got := verifyAll(t, v, []string{"nobody@cat.com", "former@cat.com"})
		if r := got["nobody@cat.com"]; r.Status == Deliverable {
			t.Errorf("nobody@cat.com (catch-all domain, no such mailbox) is deliverable/%v (catch_all %v, %+v)", r.Reason, r.CatchAll, r.SMTP)
		}
	})
}

// A host with a per-transaction recipient cap answered with a generic
// "550 Rejected" (from the 3rd RCPT of a transaction on): the session
// starts a new transaction on the same connection (MaxRcpts), where the
// next recipient is accepted again. The refusals were the cap's, not
// about the mailboxes: every address here exists.
func TestTransactionCapIsNotEvidence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		srv := &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": func(c *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
			a := rcptAddress(cmd.Arg)
			switch {
			case c.Rcpts >= 2: // c.Rcpts: RCPTs before this one in the transaction
				return testsmtp.R(550, "", "Rejected")
			case strings.HasPrefix(a, "real"):
				return testsmtp.R(250, "2.1.5", "Ok")
			}
			return testsmtp.R(550, "5.1.1", "<"+a+">: Recipient address rejected: User unknown")
		}}}
		w.add("cap.com", srv)
		v := w.verifier()
		v.MaxRcpts = 3
		paced(v)
		var addrs []string
		for i := range 8 {
			addrs = append(addrs, fmt.Sprintf("real%d@cap.com", i))
		}
		for a, r := range verifyAll(t, v, addrs) {
			if r.Status == Undeliverable {
				t.Errorf("%s exists but is undeliverable/%v (%+v)", a, r.Reason, r.SMTP)
			}
		}
	})
}
