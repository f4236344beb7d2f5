package verify

import (
	"net/netip"
	"testing"

	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/smtpprobe"
)

// TestReplyTapStages: the tap matches replies to their commands through
// pipelining and multi-line replies, and moves the pair's health only for
// replies about the egress; a mailbox answer is not one.
func TestReplyTapStages(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []smtpprobe.TranscriptLine
		want  egress.State
	}{
		{"mailbox answers", []smtpprobe.TranscriptLine{
			{Text: "S: 220 mx ESMTP", Conn: 1}, {Text: "C: EHLO v.example", Conn: 1}, {Text: "S: 250-mx", Conn: 1}, {Text: "S: 250 PIPELINING", Conn: 1},
			{Text: "C: MAIL FROM:<>", Conn: 1}, {Text: "C: RCPT TO:<a@x.com>", Rcpt: "a@x.com", Conn: 1},
			{Text: "S: 250 2.1.0 Ok", Conn: 1}, {Text: "S: 550 5.1.1 <a@x.com>: User unknown", Rcpt: "a@x.com", Conn: 1},
		}, egress.StateHealthy},
		{"block at MAIL after pipelined RSET", []smtpprobe.TranscriptLine{
			{Text: "S: 220 mx ESMTP", Conn: 1}, {Text: "C: EHLO v.example", Conn: 1}, {Text: "S: 250 mx", Conn: 1},
			{Text: "C: RSET", Conn: 1}, {Text: "C: MAIL FROM:<>", Conn: 1},
			{Text: "S: 250 2.0.0 Ok", Conn: 1},
			{Text: "S: 550-5.7.1 Service unavailable; Client host [192.0.2.1]", Conn: 1},
			{Text: "S: 550 5.7.1 blocked using zen.spamhaus.org", Conn: 1},
		}, egress.StateBlocked},
		{"each reply goes to its own command", []smtpprobe.TranscriptLine{
			{Text: "S: 220 mx ESMTP", Conn: 1}, {Text: "C: EHLO v.example", Conn: 1}, {Text: "S: 250 mx", Conn: 1},
			{Text: "C: MAIL FROM:<>", Conn: 1}, {Text: "C: QUIT", Conn: 1},
			{Text: "S: 250 2.1.0 Ok", Conn: 1},
			{Text: "S: 421 4.7.0 closing: too many connections from your IP", Conn: 1}, // QUIT's: says nothing here
		}, egress.StateHealthy},
		{"throttle at RCPT", []smtpprobe.TranscriptLine{
			{Text: "S: 220 mx ESMTP", Conn: 2}, {Text: "C: RCPT TO:<a@x.com>", Rcpt: "a@x.com", Conn: 2},
			{Text: "S: 421-4.7.28 [192.0.2.1] Our system has detected an unusual rate of", Rcpt: "a@x.com", Conn: 2},
			{Text: "S: 421 4.7.28 unsolicited mail originating from your IP address.", Rcpt: "a@x.com", Conn: 2},
		}, egress.StateThrottled},
		{"receiver misconfigured", []smtpprobe.TranscriptLine{
			{Text: "S: 220 mx ESMTP", Conn: 1}, {Text: "C: RCPT TO:<a@x.com>", Rcpt: "a@x.com", Conn: 1},
			{Text: "S: 554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; Error: open resolver; https://www.spamhaus.org/returnc/pub/1.2.3.4", Rcpt: "a@x.com", Conn: 1},
		}, egress.StateHealthy},
		{"554 banner", []smtpprobe.TranscriptLine{
			{Text: "* connected to mx [192.0.2.7:25]", Conn: 1, Opening: true},
			{Text: "S: 554 5.7.1 mx.example.com ESMTP not accepting connections from your IP", Conn: 1, Opening: true},
		}, egress.StateBlocked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := egress.NewRouter([]egress.Egress{{Source: netip.MustParseAddr("127.0.0.2")}}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			l, err := r.Route("", "192.0.2.7:25")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Release()
			tap := &replyTap{lease: l, host: "mx.x.com"}
			for _, tl := range tc.lines {
				tap.line(tl)
			}
			rec, err := r.Health().State(l.Key)
			if err != nil || rec.State != tc.want {
				t.Errorf("state %s (%v), want %s", rec.State, err, tc.want)
			}
		})
	}
}
