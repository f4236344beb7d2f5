package verify

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// TestFlushesFillTheErrorBudget: the engine takes as many jobs as the
// session's next flush can carry within the server's error limits, so a
// session spent by refusals is spent in one flush, and one left with room
// for only a few renews while more wait, instead of sending a round trip
// for one or two recipients. Every session then carries one RCPT flush
// besides EHLO and QUIT.
func TestFlushesFillTheErrorBudget(t *testing.T) {
	for _, tc := range []struct {
		name  string
		known func(i int) bool
		rate  float64 // RCPTs a second to the server
	}{
		{"every address refused", func(int) bool { return false }, 1e6},
		{"seven of nine refused", func(i int) bool { return i%9 < 2 }, 1e6}, // room 2 after each flush
		// Paced by the rate, a session is not renewed for speed.
		{"seven of nine refused at 10 a second", func(i int) bool { return i%9 < 2 }, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var addrs, known []string
				for i := range 60 {
					a := fmt.Sprintf("user%d@big.com", i)
					addrs = append(addrs, a)
					if tc.known(i) {
						known = append(known, a)
					}
				}
				srv := testsmtp.Mailboxes(known...)
				srv.Latency = 20 * time.Millisecond
				w := newWorld()
				defer w.router.close()
				w.add("big.com", srv)
				v := w.verifier()
				v.PerHost, v.PerHostRate = 1, tc.rate
				paced(v)
				got := verifyAll(t, v, addrs)
				for i, a := range addrs {
					want := ReasonMailboxNotFound
					if tc.known(i) {
						want = ReasonAccepted
					}
					if got[a].Reason != want {
						t.Errorf("%s: %v/%v, want %v", a, got[a].Status, got[a].Reason, want)
					}
				}
				// 61 recipients (the catch-all probe too), a random
				// address at the front of each flush, and at its end a
				// canary and a control (an accepted address of big.com,
				// or postmaster@big.com: the refusals before it count), 9
				// a session: the first carries 5 addresses, each other 6,
				// so 1 + ceil(55/6) = 11 sessions. In "seven of nine
				// refused", the last session's control does not fit its
				// error budget: user59, refused, is asked again with a
				// control after it (engine.sandwich), one flush more on
				// that connection and one on a fresh one.
				conns, flushes := srv.Connections(), srv.Flushes()
				extra := 0
				if tc.known(0) {
					extra = 2
				}
				switch {
				// Paced by the rate, a session is not renewed for speed,
				// only when its room is down to minRoom: a flush of its
				// front, 6 recipients, its canary and control spend a
				// session's error budget at most as fast as when every
				// address is refused, so up to 11.
				case tc.rate < 1e6 && conns > 11:
					t.Errorf("%d connections and %d flushes; want at most 11", conns, flushes)
				case tc.rate == 1e6 && (conns != 11 || flushes != 3*conns+extra):
					t.Errorf("%d connections and %d flushes; want 11, each EHLO, one RCPT flush and QUIT (and %d more)", conns, flushes, extra)
				}
			})
		})
	}
}
