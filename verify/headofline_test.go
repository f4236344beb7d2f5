package verify

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// TestParkedWorkDoesNotBlockTheWindow: a window of 10, and a list whose
// first 20 addresses are at a greylisting server (retried after a
// minute), then 30 at a server that answers at once. The greylisted
// addresses wait parked out of the window (up to twice its size), so the
// others are read and answered in seconds, not after the greylisting
// retry.
func TestParkedWorkDoesNotBlockTheWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		w.add("grey.com", testsmtp.Greylist())
		var fast []string
		for i := range 30 {
			fast = append(fast, fmt.Sprintf("u%d@fast.com", i))
		}
		w.add("fast.com", testsmtp.Mailboxes(fast...))
		var addrs []string
		for i := range 20 {
			addrs = append(addrs, fmt.Sprintf("u%d@grey.com", i))
		}
		addrs = append(addrs, fast...)
		v := w.verifier()
		v.Window, v.GreylistDelay, v.GreylistMaxWait = 10, time.Minute, 5*time.Minute
		start := time.Now()
		var fastDone, greyDone []time.Duration
		for _, r := range v.VerifyAll(t.Context(), addrs) {
			if strings.HasSuffix(r.Input, "@fast.com") {
				fastDone = append(fastDone, time.Since(start))
				if r.Status != Deliverable {
					t.Errorf("%s: %s/%s", r.Input, r.Status, r.Reason)
				}
			} else {
				greyDone = append(greyDone, time.Since(start))
			}
		}
		if len(fastDone) != 30 || len(greyDone) != 20 {
			t.Fatalf("%d fast and %d greylisted results, want 30 and 20", len(fastDone), len(greyDone))
		}
		if last := slices.Max(fastDone); last > 30*time.Second {
			t.Errorf("the fast server's last answer came after %v: it waited behind parked work", last)
		}
		if first := slices.Min(greyDone); first < time.Minute {
			t.Errorf("a greylisted address ended after %v, before its retry", first)
		}
	})
}

// TestQueuedWithoutSessionLeavesTheWindow: one session slot
// (Concurrency 1) and a window of 10. The list has an address of a slow
// server, then 10 of a second server, then 19 more of the slow one. The
// second server's addresses wait for the slot the slow server's session
// holds; waiting there, they leave the window, so the slow server's other
// addresses are read while its session is open and it serves them all in
// one, the second server's session before or after it. Holding their
// places, they kept the rest of the list unread until the slow server's
// session had ended for want of work, and it needed another after the
// second server's.
//
// The one session renews its connection once: the window lets the slow
// server's addresses in five flushes, each with a random address at its
// front and one at its end (canary.go), refused, and the first with the
// catch-all probe: 11 refusals, past one connection's error budget.
func TestQueuedWithoutSessionLeavesTheWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		defer w.router.close()
		var slow, other []string
		for i := range 20 {
			slow = append(slow, fmt.Sprintf("u%d@slow.com", i))
		}
		for i := range 10 {
			other = append(other, fmt.Sprintf("u%d@other.com", i))
		}
		srv := testsmtp.Mailboxes(slow...)
		srv.Latency = 200 * time.Millisecond
		var mu sync.Mutex
		n, firstSlow, lastSlow := 0, 0, 0 // RCPTs in the order the servers saw them
		var others []int
		seen := func(s *testsmtp.Server, at func(k int)) {
			h := s.Handlers["RCPT"]
			s.Handlers["RCPT"] = func(c *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
				mu.Lock()
				n++
				at(n)
				mu.Unlock()
				return h(c, cmd)
			}
		}
		seen(srv, func(k int) { firstSlow, lastSlow = cmp.Or(firstSlow, k), k })
		osrv := testsmtp.Mailboxes(other...)
		seen(osrv, func(k int) { others = append(others, k) })
		w.add("slow.com", srv)
		w.add("other.com", osrv)
		addrs := append(append([]string{slow[0]}, other...), slow[1:]...)
		v := w.verifier()
		v.Window, v.Concurrency = 10, 1
		got := verifyAll(t, v, addrs)
		for _, a := range addrs {
			if got[a].Status != Deliverable {
				t.Errorf("%s: %s/%s", a, got[a].Status, got[a].Reason)
			}
		}
		between := slices.ContainsFunc(others, func(k int) bool { return k > firstSlow && k < lastSlow })
		if c := srv.Connections(); c > 2 || between {
			t.Errorf("the slow server saw %d connections, RCPTs %d to %d of both servers', the other server %v; want its 20 addresses in one session (two connections), none of the other's between",
				c, firstSlow, lastSlow, others)
		}
	})
}
