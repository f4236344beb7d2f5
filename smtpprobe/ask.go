package smtpprobe

import (
	"context"
	"fmt"
	"strings"
)

// askVerbs are the commands Ask sends: questions that change nothing and
// deliver nothing.
var askVerbs = map[string]bool{"VRFY": true, "EXPN": true, "NOOP": true, "HELP": true}

// Ask sends one of the commands that only ask — VRFY, EXPN, NOOP, HELP —
// and returns the server's reply. It is for diagnosing a server (are VRFY
// and EXPN disabled?); anything else, DATA above all, is refused.
func (s *Session) Ask(ctx context.Context, verb, arg string) (Reply, error) {
	verb = strings.ToUpper(verb)
	if !askVerbs[verb] {
		return Reply{}, fmt.Errorf("smtpprobe: Ask sends only VRFY, EXPN, NOOP and HELP, not %s", verb)
	}
	line := verb
	if arg != "" {
		line += " " + arg
	}
	if strings.ContainsAny(line, "\r\n\x00") {
		return Reply{}, fmt.Errorf("smtpprobe: %q: CR, LF and NUL are never sent", line)
	}
	return s.cmd(ctx, verb, line)
}
