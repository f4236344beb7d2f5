package smtpprobe

import (
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// TestTranscriptFuncFilesLinesByRecipient: every RCPT command and its
// reply carry the recipient, pipelined or not; the banner, EHLO, MAIL
// FROM and RSET lines carry none; and Transcript still redacts.
func TestTranscriptFuncFilesLinesByRecipient(t *testing.T) {
	for _, ext := range [][]string{{"PIPELINING"}, {"8BITMIME"}} {
		t.Run(ext[0], func(t *testing.T) {
			bubble(t, func(t *testing.T) {
				srv := testsmtp.Mailboxes("jane@x.test", "ann@y.test")
				srv.Extensions, srv.Latency = ext, time.Millisecond
				defer srv.Close()
				var lines []TranscriptLine
				var tr strings.Builder
				p := &Prober{Dialer: srv, HELO: "verifier.example.net", Transcript: &tr,
					TranscriptFunc: func(l TranscriptLine) { lines = append(lines, l) }}
				s, err := p.Open(t.Context(), "mx.example.com", "192.0.2.25:25")
				if err != nil {
					t.Fatal(err)
				}
				addrs := []string{"jane@x.test", "bob@x.test", "ann@y.test"}
				alone, _ := s.ProbeWith(t.Context(), []string{"rnd7@y.test"}, addrs...)
				s.Close()
				if alone[0].Outcome != MailboxNotFound {
					t.Fatalf("probe: %v", alone[0].Outcome)
				}
				replies := map[string]int{}
				for _, l := range lines {
					if l.Conn != 1 {
						t.Errorf("%q on connection %d", l.Text, l.Conn)
					}
					cmd := rcptOf(strings.TrimPrefix(l.Text, "C: "))
					switch {
					case cmd != "" && l.Rcpt != cmd:
						t.Errorf("%q filed under %q", l.Text, l.Rcpt)
					case l.Rcpt == "" && strings.Contains(l.Text, "@"):
						t.Errorf("shared line names an address: %q", l.Text)
					case l.Rcpt != "" && !strings.Contains(l.Text, "TO:<"+l.Rcpt+">") && strings.HasPrefix(l.Text, "C: "):
						t.Errorf("command %q filed under %q", l.Text, l.Rcpt)
					case strings.HasPrefix(l.Text, "S: ") && l.Rcpt != "":
						replies[l.Rcpt]++
						if strings.HasPrefix(l.Text, "S: 550") && !strings.Contains(l.Text, "<"+l.Rcpt+">") {
							t.Errorf("reply %q filed under %q", l.Text, l.Rcpt)
						}
					}
				}
				for _, a := range append(addrs, "rnd7@y.test") {
					if replies[a] != 1 {
						t.Errorf("%s: %d replies filed, want 1", a, replies[a])
					}
				}
				if len(lines) < 4 || !lines[0].Opening || !strings.HasPrefix(lines[1].Text, "S: 220") || lines[1].Rcpt != "" ||
					!strings.Contains(lines[2].Text, "EHLO verifier.example.net") || !lines[2].Opening {
					t.Errorf("opening lines: %+v", lines[:min(4, len(lines))])
				}
				if strings.Contains(tr.String(), "jane@") || !strings.Contains(tr.String(), "RCPT TO:<***@x.test>") {
					t.Errorf("Transcript not redacted:\n%s", tr.String())
				}
			})
		})
	}
}
