package verify

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// TestEgressRequeuedWaitIsRateLimited: the server throttles egress e2
// (421 4.7.28, after 150 ms) for every RCPT, so the addresses its first
// session carried go back to the host's queue, to be asked through e3;
// e3's only Google session is held by a killed process for 3 s. The
// queue's worker waits for e3's session within the batch's deadline,
// which the fresh addresses at the head of the queue set, later than the
// re-queued ones' (their Timeout of 1 s began at their first session). A
// re-queued address whose deadline passes during that wait spent its time
// waiting for an egress, not at a server: it ends unknown/rate_limited
// with retry_after (a cluster parks it), like the addresses the wait
// itself ends, and not unknown/timeout, which a cluster stores as the
// answer. No address is ever given a wrong verdict.
func TestEgressRequeuedWaitIsRateLimited(t *testing.T) {
	throttle := testsmtp.R(421, "4.7.28", "Our system has detected an unusual rate of unsolicited mail originating from your IP address.")
	throttle.Delay = 150 * time.Millisecond
	w := newEgressWorld(t, "127.0.0.2", sourceRule{rcpt: &throttle})
	w.res.MX["pool-mail.com"] = []*net.MX{{Host: "gmail-smtp-in.l.google.com", Pref: 5}}
	w.res.IP["gmail-smtp-in.l.google.com"] = []netip.Addr{netip.MustParseAddr("127.0.3.1")}
	v, _ := w.verifier(t, 2, googleOneSession)
	v.Timeout = time.Second
	holdGoogleSession(t, v, 1)
	wantRateLimited(t, w, v, "its time went waiting for an egress")
}
