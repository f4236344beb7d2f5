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
// right after the batch in its transaction.
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
				// EHLO, the catch-all probe alone (MAIL, RCPT, RSET), then
				// MAIL, the 6 RCPTs and the canary one by one, QUIT. u5's
				// refusal has no acceptance of one.com after it in its
				// transaction (answer.before), and the connection's error
				// budget (8: the probe, u1, u3, u5 and the canaries after
				// u0, u2 and u4) leaves no room to ask it again with a
				// control: a second connection asks it (EHLO, MAIL, u5),
				// then again in a new transaction with u4 after it (RSET,
				// MAIL, u5, u4), QUIT: 8 more.
				wantConns, want := 2, 21
				if pipe {
					// EHLO, one flush of MAIL, RCPTs, canary and control
					// (postmaster@one.com, after u5), QUIT.
					wantConns, want = 1, 3
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
