package verify

import (
	"fmt"
	"testing"
	"time"

	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/internal/testsmtp"
)

// TestEgressClientRateMovesWork: Postfix's anvil rate limit
// (smtpd_client_recipient_rate_limit) answers each RCPT past a client's
// rate with 450 4.7.1 "too many recipients from" and keeps the session
// open. It is the egress's throttle, not a transaction's recipient cap:
// the throttled egress is not asked again in new transactions or
// connections, and the work finishes at once through the other egress.
// With budgets that bind (the embedded 10 RCPTs a minute), what does not
// fit ends unknown/rate_limited with retry_after at once, not at the
// address's deadline.
func TestEgressClientRateMovesWork(t *testing.T) {
	anvil := testsmtp.R(450, "4.7.1", "Error: too many recipients from 127.0.0.2")
	for _, tc := range []struct {
		name     string
		profiles string
	}{{"generous budgets", generous}, {"embedded budgets", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			w := newEgressWorld(t, "127.0.0.2", sourceRule{rcpt: &anvil, after: 4})
			v, events := w.verifier(t, 2, generous)
			if tc.profiles == "" {
				v.Profiles, v.MaxRcpts = nil, 0
			}
			start := time.Now()
			res := w.check(t, v)
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("took %v; the Timeout is %v: something waited for it", el, v.Timeout)
			}
			right := w.right(res)
			for a, r := range res {
				if r.Status == Unknown && (r.Reason != ReasonRateLimited || r.RetryAfter <= 0 || tc.profiles != "") {
					t.Errorf("%s: %s/%s retry_after %v", a, r.Status, r.Reason, r.RetryAfter)
				}
			}
			if right == 0 || (tc.profiles != "" && right != len(w.addrs)) {
				t.Errorf("%d of %d verdicts right:%s", right, len(w.addrs), brief(res))
			}
			if n := w.server.perSource()["127.0.0.2"]; n > 10 {
				t.Errorf("the throttled source sent %d RCPTs: asked again after the throttle", n)
			}
			if !hasEvent(*events, "e2", egress.StateThrottled) || hasEvent(*events, "e3", egress.StateThrottled) {
				t.Errorf("events %s; want e2 throttled, e3 not", fmt.Sprint(*events))
			}
		})
	}
}
