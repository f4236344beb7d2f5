package verify

import (
	"fmt"
	"slices"
	"strings"
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
