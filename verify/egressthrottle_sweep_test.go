package verify

import (
	"fmt"
	"testing"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// TestEgressThrottleAnywhere: the server throttles the first egress after
// its n-th RCPT, so the throttle lands on later commands in turn (an
// address, a canary, a control, a refusal asked again in a new
// transaction with its control: n = 7 and 8 hit the last, where the
// throttle used to end the address rate_limited): every address still
// gets its right verdict through the second egress. Each n takes seconds
// (the world's waits), so only these.
func TestEgressThrottleAnywhere(t *testing.T) {
	anvil := testsmtp.R(450, "4.7.1", "Error: too many recipients from 127.0.0.2")
	for n := 6; n <= 9; n++ {
		t.Run(fmt.Sprint("after=", n), func(t *testing.T) {
			w := newEgressWorld(t, "127.0.0.2", sourceRule{rcpt: &anvil, after: n})
			v, _ := w.verifier(t, 2, generous)
			res := w.check(t, v)
			if right := w.right(res); right != len(w.addrs) {
				t.Errorf("%d of %d verdicts right:%s", right, len(w.addrs), brief(res))
			}
		})
	}
}
