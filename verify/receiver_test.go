package verify

import (
	"errors"
	"testing"
	"testing/synctest"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// A server whose own blocklist setup is broken refuses every sender: the
// address is unknown/temporary_failure with a ReceiverError, not
// unknown/blocked (which says our IP or HELO is refused) nor a verdict on
// the mailbox.
func TestReceiverMisconfiguredIsNotBlocked(t *testing.T) {
	for name, rep := range map[string]testsmtp.Reply{
		"open resolver":                testsmtp.R(554, "5.7.1", "Service unavailable; Client host [127.0.0.2] blocked using zen.spamhaus.org; Error: open resolver; https://www.spamhaus.org/returnc/pub/127.0.0.1"),
		"dead dnsbl":                   testsmtp.R(550, "5.7.1", "Rejected: 127.0.0.2 listed at dnsbl.ahbl.org"),
		"5.1.1 naming a broken lookup": testsmtp.R(550, "5.1.1", "<jane@broken.com>: Recipient address rejected: User unknown; Error: open resolver"),
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld()
				defer w.router.close()
				w.add("broken.com", &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": func(*testsmtp.Conn, testsmtp.Command) testsmtp.Reply { return rep }}})
				w.add("brokenmail.com", &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"MAIL": func(*testsmtp.Conn, testsmtp.Command) testsmtp.Reply { return rep }}})
				got := verifyAll(t, w.verifier(), []string{"jane@broken.com", "jane@brokenmail.com"})
				if r := got["jane@brokenmail.com"]; rep.Enhanced == "5.7.1" && (r.Reason != ReasonTemporaryFailure || !errors.As(r.Err, new(*ReceiverError))) {
					t.Errorf("refused at MAIL: %v/%v (%v), want unknown/temporary_failure with a ReceiverError", r.Status, r.Reason, r.Err)
				}
				r := got["jane@broken.com"]
				var re *ReceiverError
				if r.Status != Unknown || r.Reason != ReasonTemporaryFailure || !errors.As(r.Err, &re) || re.Rule == "" {
					t.Errorf("%v/%v (%v), want unknown/temporary_failure with a ReceiverError", r.Status, r.Reason, r.Err)
				}
			})
		})
	}
}
