package verify

import (
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// greyServer greylists each address for grey from its first RCPT (as
// postgrey does, per recipient), then answers the mailboxes 250 and the
// rest 550; it counts the RCPTs per address.
func greyServer(grey time.Duration, mailboxes ...string) (*testsmtp.Server, func(string) int) {
	var mu sync.Mutex
	first := map[string]time.Time{}
	asked := map[string]int{}
	srv := &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": func(_ *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
		a := rcptAddress(cmd.Arg)
		mu.Lock()
		defer mu.Unlock()
		asked[a]++
		t0, ok := first[a]
		if !ok {
			first[a], t0 = time.Now(), time.Now()
		}
		switch {
		case time.Since(t0) < grey:
			return testsmtp.R(450, "4.2.0", "Greylisted, please come back later")
		case strings.HasPrefix(a, "u") && len(mailboxes) == 0:
			return testsmtp.R(250, "2.1.5", "Ok")
		}
		for _, m := range mailboxes {
			if m == a {
				return testsmtp.R(250, "2.1.5", "Ok")
			}
		}
		return testsmtp.R(550, "5.1.1", "User unknown")
	}}}
	return srv, func(a string) int { mu.Lock(); defer mu.Unlock(); return asked[a] }
}

// TestGreyLateAddressGetsItsBudget: a domain greylists every address for
// 20 s. Its first address is read at the start and passes at its retry
// (25 s); a second, read at 20 s, keeps the domain in flight until its
// own retry (45 s); a third is read at 44 s, when a minute's budget
// counted from the domain's first greylisting has 16 s left. Each address waits from its
// own first greylisting (GreylistMaxWait): the second passes at its
// retry, as the world lets it, and does not end unknown/greylisted after
// a retry at the domain's budget's end, sooner than the server's delay.
func TestGreyLateAddressGetsItsBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, asked := greyServer(20*time.Second, "jane@grey.com", "joe@grey.com", "ann@grey.com")
		w := newWorld()
		defer w.router.close()
		w.add("grey.com", srv)
		v := w.verifier()
		v.GreylistDelay, v.GreylistMaxWait = 25*time.Second, time.Minute
		in := func(yield func(string) bool) {
			if !yield("jane@grey.com") {
				return
			}
			time.Sleep(20 * time.Second)
			if !yield("ann@grey.com") {
				return
			}
			time.Sleep(24 * time.Second)
			yield("joe@grey.com")
		}
		got := map[string]Result{}
		for _, r := range v.VerifySeq(t.Context(), in) {
			got[r.Address] = r
		}
		for _, a := range []string{"jane@grey.com", "ann@grey.com", "joe@grey.com"} {
			if r := got[a]; r.Status != Deliverable {
				t.Errorf("%s: %v/%v (%v) after %d RCPTs, want deliverable: the server let it through 20 s after its first RCPT",
					a, r.Status, r.Reason, r.Err, asked(a))
			}
		}
	})
}
