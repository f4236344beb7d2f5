package verify

import (
	"strconv"
	"strings"

	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/smtpprobe"
)

// A replyTap reads a session's conversation (Prober.TranscriptFunc) for
// the replies that say something about the egress, and tells the lease:
// every refusal (Lease.Observe: throttles and blocks move the pair's
// health), and the first mailbox answer (Lease.Success: a half-open pair
// returns to service). It runs on the session's goroutine.
type replyTap struct {
	lease *egress.Lease
	host  string

	conn  int      // the connection being read
	cmds  []string // the shared commands sent there, awaiting replies
	lines []string // the reply being read, without codes
	fine  bool     // a mailbox answer was reported
}

func (t *replyTap) line(tl smtpprobe.TranscriptLine) {
	if tl.Conn != t.conn {
		t.conn, t.cmds, t.lines = tl.Conn, nil, nil
	}
	switch {
	case strings.HasPrefix(tl.Text, "C: "):
		if tl.Rcpt == "" {
			verb, _, _ := strings.Cut(tl.Text[3:], " ")
			t.cmds = append(t.cmds, strings.ToUpper(strings.TrimSuffix(verb, ":")))
		}
	case strings.HasPrefix(tl.Text, "S: "):
		s := tl.Text[3:]
		code, err := strconv.Atoi(s[:min(3, len(s))])
		if err != nil || len(s) < 3 {
			return
		}
		t.lines = append(t.lines, strings.TrimSpace(s[min(4, len(s)):]))
		if len(s) > 3 && s[3] == '-' {
			return // more lines follow
		}
		stage := egress.StageRcpt
		if tl.Rcpt == "" {
			stage = egress.StageGreeting
			if len(t.cmds) > 0 {
				stage = sharedStage(t.cmds[0])
				t.cmds = t.cmds[1:]
			}
		}
		t.reply(stage, code)
		t.lines = t.lines[:0]
	}
}

// reply handles one whole reply to a command of stage.
func (t *replyTap) reply(stage egress.Stage, code int) {
	if stage == "" || code < 200 {
		return
	}
	rep := egress.Reply{Stage: stage, Code: code}
	if len(t.lines) > 0 {
		first, rest, _ := strings.Cut(t.lines[0], " ")
		if enhanced(first) {
			rep.Enhanced = first
			t.lines[0] = rest
		}
	}
	rep.Text = strings.Join(t.lines, " ")
	if code >= 400 {
		if f, _ := t.lease.Observe(t.host, rep); f.Verdict != egress.None || stage != egress.StageRcpt {
			return
		}
	}
	if stage == egress.StageRcpt && !t.fine {
		t.fine = true
		_ = t.lease.Success()
	}
}

// enhanced reports whether s looks like an enhanced status code (RFC 3463).
func enhanced(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || (s[0] != '2' && s[0] != '4' && s[0] != '5') {
		return false
	}
	for _, p := range parts {
		if _, err := strconv.Atoi(p); err != nil || p == "" {
			return false
		}
	}
	return true
}

// sharedStage is the stage of a shared command's reply; "" for those that
// say nothing about the egress (RSET, NOOP, QUIT).
func sharedStage(verb string) egress.Stage {
	switch verb {
	case "EHLO", "HELO", "STARTTLS", "MAIL":
		return egress.StageOf(verb)
	}
	return ""
}
