package verify

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/smtpprobe"
)

// TestCanaryRidesInTheBatchFlush: on a server that pipelines, a batch's
// acceptances are proven by the canary at the end of their own flush:
// one connection, one flush of RCPTs (with the canary, which answers the
// domain's first catch-all question too), and every verdict definite.
// Without pipelining, each command is a round trip and the canary comes
// right after the batch in its transaction. A random address goes at the
// front of the domain's first batch too (canary.go, front); the later
// batches continue its transaction, which the host judged, and need none.
func TestCanaryRidesInTheBatchFlush(t *testing.T) {
	for _, pipe := range []bool{true, false} {
		t.Run(fmt.Sprintf("pipelining %v", pipe), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var addrs, known []string
				for i := range 6 {
					a := fmt.Sprintf("u%d@one.com", i)
					addrs = append(addrs, a)
					if i%2 == 0 {
						known = append(known, a)
					}
				}
				srv := testsmtp.Mailboxes(known...)
				srv.Latency = 20 * time.Millisecond
				if !pipe {
					srv.Extensions = []string{"8BITMIME"}
				}
				w := newWorld()
				defer w.router.close()
				w.add("one.com", srv)
				got := verifyAll(t, w.verifier(), addrs)
				for i, a := range addrs {
					want := ReasonMailboxNotFound
					if i%2 == 0 {
						want = ReasonAccepted
					}
					if got[a].Reason != want {
						t.Errorf("%s: %v/%v, want %v", a, got[a].Status, got[a].Reason, want)
					}
				}
				conns, flushes := srv.Connections(), srv.Flushes()
				// EHLO, MAIL, the catch-all probe, the front, then the 6
				// RCPTs one by one, each acceptance (3) followed by the
				// canary, QUIT: 14. The refusals (probe, front, 3 canaries,
				// 3 addresses) are 8, the connection's budget. u5's refusal
				// has no acceptance of one.com after it in its transaction
				// (answer.before): it is asked again with u4 after it
				// (engine.sandwich), on a second connection: EHLO, MAIL,
				// u5, u4, QUIT, 5 more.
				wantConns, want := 2, 19
				if pipe {
					// EHLO; MAIL, the probe, the front, u0..u4, the canary
					// and the control (postmaster@one.com): the error
					// budget's 9; then u5 with its front, canary and
					// control (u4, accepted); QUIT.
					wantConns, want = 1, 4
				}
				if conns != wantConns || flushes != want {
					t.Errorf("%d connections and %d flushes; want %d and %d", conns, flushes, wantConns, want)
				}
			})
		})
	}
}

// TestRefusalInLaterFlush: where the server pipelines, a refusal in a
// later flush of the transaction (a round trip later, no wait of ours in
// between) proves no acceptance before it; without pipelining, where
// every command is its own round trip, it does.
func TestRefusalInLaterFlush(t *testing.T) {
	conn := connID{worker: 1, n: 1}
	acc := answer{conn: conn, seq: 1, tx: 1, flush: 1, o: smtpprobe.Accepted}
	ref := answer{conn: conn, seq: 2, tx: 1, flush: 2, o: smtpprobe.MailboxNotFound}
	same := ref
	same.flush = 1
	for _, tc := range []struct {
		piped  bool
		r      answer
		proves bool
	}{
		{true, ref, false},
		{true, same, true},
		{false, ref, true},
		{false, same, true},
	} {
		a, r := acc, tc.r
		a.piped, r.piped = tc.piped, tc.piped
		if got := a.refuted(r); got != tc.proves {
			t.Errorf("piped %v, acceptance in flush %d, refusal in flush %d: refuted %v, want %v", tc.piped, a.flush, r.flush, got, tc.proves)
		}
	}
}
