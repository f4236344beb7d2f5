package verify

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// TestRetryOpenKeepsTheDeadline: Timeout counts from an address's first
// SMTP attempt, greylisting retries included, so a retry whose new
// session hangs in EHLO ends at the address's deadline, not a whole
// Timeout after the retry began.
func TestRetryOpenKeepsTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &testsmtp.Server{Handlers: map[string]testsmtp.Handler{
			"RCPT": func(*testsmtp.Conn, testsmtp.Command) testsmtp.Reply {
				return testsmtp.R(450, "4.2.0", "Greylisted, see http://postgrey.schweikert.ch/help/x.html")
			},
			"EHLO": func(c *testsmtp.Conn, _ testsmtp.Command) testsmtp.Reply {
				if c.Index > 0 {
					time.Sleep(30 * time.Second) // the retry's session hangs
				}
				return testsmtp.Reply{Code: 250, Lines: []string{"testsmtp", "PIPELINING"}}
			},
		}}
		w := newWorld()
		defer w.router.close()
		w.add("grey.com", srv)
		v := w.verifier()
		v.Timeout, v.GreylistDelay, v.GreylistMaxWait, v.CommandTimeout = 10*time.Second, 5*time.Second, time.Minute, time.Minute
		start := time.Now()
		r := verifyAll(t, v, []string{"jane@grey.com"})["jane@grey.com"]
		if el := time.Since(start); el > 10*time.Second+100*time.Millisecond {
			t.Errorf("took %v; Timeout is 10s from the first attempt", el)
		}
		if r.Status != Unknown || r.Reason != ReasonGreylisted && r.Reason != ReasonTimeout {
			t.Errorf("%v/%v, want unknown/greylisted or timeout", r.Status, r.Reason)
		}
	})
}
