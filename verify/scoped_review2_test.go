package verify

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/mx/mxtest"
)

// Found by a second adversarial review of the scoped-evidence rules.
// Every server here is honest whenever it names a mailbox (250 for an
// existing one, 5.1.1 for an unknown one); otherwise it uses the
// freedoms the brief lists: generic "550 Rejected", soft limits, caps,
// harvest protection.

// perTx counts RCPT commands per transaction (MAIL to RSET) of each
// connection, refusals included.
type perTx struct {
	mu sync.Mutex
	n  map[int]int
}

func (p *perTx) server(rcpt func(addr string, inTx int) testsmtp.Reply) *testsmtp.Server {
	p.n = map[int]int{}
	reset := func(c *testsmtp.Conn, _ testsmtp.Command) testsmtp.Reply {
		p.mu.Lock()
		p.n[c.Index] = 0
		p.mu.Unlock()
		return testsmtp.R(250, "2.0.0", "Ok")
	}
	return &testsmtp.Server{Handlers: map[string]testsmtp.Handler{
		"MAIL": reset,
		"RSET": reset,
		"RCPT": func(c *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
			p.mu.Lock()
			k := p.n[c.Index]
			p.n[c.Index]++
			p.mu.Unlock()
			return rcpt(rcptAddress(cmd.Arg), k)
		},
	}}
}

// A soft limit per transaction: the first three recipients of a
// transaction are judged (5.1.1 for unknown ones), every later one is
// accepted; our RSET starts the count over, as it does a per-transaction
// cap. The random address asked after the acceptances, first in a new
// transaction, is refused honestly, but it says nothing about the
// acceptances of the earlier transaction, which the server gave to
// everyone.
func TestPerTransactionSoftLimitIsNotEvidence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		var p perTx
		srv := p.server(func(a string, inTx int) testsmtp.Reply {
			if inTx >= 3 || strings.HasPrefix(a, "real") {
				return testsmtp.R(250, "2.1.5", "Ok")
			}
			return testsmtp.R(550, "5.1.1", "<"+a+">: Recipient address rejected: User unknown")
		})
		w.add("soft.com", srv)
		v := w.verifier()
		v.Concurrency, v.PerHost = 1, 1
		addrs := []string{"real0@soft.com", "real1@soft.com"}
		for i := range 4 {
			addrs = append(addrs, fmt.Sprintf("ghost%d@soft.com", i))
		}
		for a, r := range verifyAll(t, v, addrs) {
			if strings.HasPrefix(a, "ghost") && r.Status == Deliverable {
				t.Errorf("%s: deliverable/%v (catch_all %v, %+v); the transaction had begun to accept everyone", a, r.Reason, r.CatchAll, r.SMTP)
			}
		}
	})
}

// Harvest protection that lasts a few seconds: after an unknown
// recipient the host refuses everyone from us with "550 Rejected" for
// 3 s, then tells recipients apart again. The server does not pipeline
// and each round trip takes a second, so the protection ends inside the
// transaction that carries the batch: the existing mailboxes it refused
// are followed, in that transaction, by acceptances. They exist; no
// refusal of theirs names a mailbox.
func TestHarvestProtectionEndingMidTransaction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		var mu sync.Mutex
		var until time.Time
		srv := &testsmtp.Server{
			Extensions: []string{"8BITMIME", "SIZE 10240000"},
			Latency:    time.Second,
			Handlers: map[string]testsmtp.Handler{"RCPT": func(_ *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
				mu.Lock()
				defer mu.Unlock()
				a := rcptAddress(cmd.Arg)
				switch {
				case time.Now().Before(until):
					return testsmtp.R(550, "", "Rejected")
				case strings.HasPrefix(a, "real"):
					return testsmtp.R(250, "2.1.5", "Ok")
				}
				until = time.Now().Add(3 * time.Second)
				return testsmtp.R(550, "5.1.1", "<"+a+">: Recipient address rejected: User unknown")
			}},
		}
		w.add("strict.com", srv)
		v := w.verifier()
		v.Concurrency, v.PerHost = 1, 1
		var addrs []string
		for i := range 8 {
			addrs = append(addrs, fmt.Sprintf("real%d@strict.com", i))
		}
		for a, r := range verifyAll(t, v, addrs) {
			if r.Status == Undeliverable {
				t.Errorf("%s exists but is undeliverable/%v (%+v)", a, r.Reason, r.SMTP)
			}
		}
	})
}

// slowMX answers LookupMX for some names only after a delay.
type slowMX struct {
	*mxtest.Resolver
	delay map[string]time.Duration
}

func (r slowMX) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	time.Sleep(r.delay[strings.TrimSuffix(name, ".")])
	return r.Resolver.LookupMX(ctx, name)
}

// A host serving two domains with a soft limit per recipient domain: from
// the 3rd recipient of alpha-corp.com from us it accepts every
// alpha-corp.com address, while it keeps telling beta-corp.com's
// recipients apart. An alpha-corp.com acceptance given to everyone is not
// proven by a beta-corp.com refusal after it: the server's count was
// alpha-corp.com's.
func TestPerDomainSoftLimitIsNotEvidenceForAnotherDomain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		var mu sync.Mutex
		seen := map[string]int{}
		srv := &testsmtp.Server{Latency: time.Second, Handlers: map[string]testsmtp.Handler{"RCPT": func(_ *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
			a := rcptAddress(cmd.Arg)
			_, dom, _ := strings.Cut(a, "@")
			mu.Lock()
			n := seen[dom]
			seen[dom]++
			mu.Unlock()
			if dom == "alpha-corp.com" && n >= 2 || strings.HasPrefix(a, "real") {
				return testsmtp.R(250, "2.1.5", "Ok")
			}
			return testsmtp.R(550, "5.1.1", "<"+a+">: Recipient address rejected: User unknown")
		}}}
		w.add("alpha-corp.com", srv)
		w.res.MX["beta-corp.com"] = w.res.MX["alpha-corp.com"]
		v := w.verifier()
		// beta-corp.com's addresses reach the queue while alpha-corp.com's
		// batch is on the wire.
		v.Resolver = slowMX{w.res, map[string]time.Duration{"beta-corp.com": 100 * time.Millisecond}}
		v.Concurrency, v.PerHost = 1, 1
		addrs := []string{"real0@alpha-corp.com", "ghost0@alpha-corp.com", "ghost1@alpha-corp.com", "real0@beta-corp.com", "ghost0@beta-corp.com"}
		for a, r := range verifyAll(t, v, addrs) {
			if strings.HasPrefix(a, "ghost") && r.Status == Deliverable {
				t.Errorf("%s: deliverable/%v (catch_all %v, %+v); the host had begun to accept every alpha-corp.com address", a, r.Reason, r.CatchAll, r.SMTP)
			}
		}
	})
}

// A host that refuses unknown recipients with a generic "550 Rejected"
// and accepts jane. Asked about jane alone, the batch carries the random
// address first and jane after it in one transaction (catch_all no);
// jane's acceptance then needs a refusal after it: the trailing probe,
// refused generically, with "one accepted address again as a control"
// (doc.go) so that the refusal counts. The control goes in a transaction
// of its own, so it never makes the trailing probe's refusal count, and
// jane is unknown/cannot_verify, though the host told her apart.
func TestTrailingProbeControlSharesItsTransaction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		srv := &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": func(_ *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
			if rcptAddress(cmd.Arg) == "jane@generic.com" {
				return testsmtp.R(250, "2.1.5", "Ok")
			}
			return testsmtp.R(550, "", "Rejected")
		}}}
		w.add("generic.com", srv)
		v := w.verifier()
		r, _ := v.Verify(t.Context(), "jane@generic.com")
		if r.Status != Deliverable {
			t.Errorf("jane@generic.com: %v/%v (catch_all %v), want deliverable", r.Status, r.Reason, r.CatchAll)
			for _, l := range srv.Transcript() {
				t.Log(l)
			}
		}
	})
}
