package smtpprobe

import (
	"testing"
	"time"
)

func TestRetryDelay(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		reply string
		want  time.Duration
		ok    bool
	}{
		{"450 4.7.1 Graylisted, please try again in 5 minutes", 5 * time.Minute, true},
		{"451 4.7.1 Greylisted for 300 seconds (see http://example.net/grey)", 300 * time.Second, true},
		{"450 4.2.0 Greylisted: please retry after 60s", time.Minute, true},
		{"451 Temporarily rejected. Please wait 90 secs and try again.", 90 * time.Second, true},
		{"421 4.7.0 Try again in 1 hour", time.Hour, true},
		{"450 4.2.0 <a@example.com>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.com.html", 0, false},
		{"451 4.7.1 Please try again later", 0, false},
		{"450 4.7.1 Try again in 5", 0, false},
		{"450 4.7.1 Try again in 999 hours", 0, false},
		{"550 5.7.1 Try again in 5 minutes", 0, false},
		{"450 4.7.1 Server has 5 minutes of load", 0, false},
	} {
		got, ok := RetryDelay(replyFrom(t, tc.reply))
		if got != tc.want || ok != tc.ok {
			t.Errorf("RetryDelay(%q) = %v, %v; want %v, %v", tc.reply, got, ok, tc.want, tc.ok)
		}
	}
}
