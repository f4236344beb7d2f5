package smtpprobe

import (
	"io"
	"strings"
)

// A TranscriptLine is one line of a session's conversation, as given to
// [Prober.TranscriptFunc], with the recipient it belongs to. A session
// carries the recipients of many domains; Rcpt lets a caller show each
// recipient the lines that are its own and the lines every recipient of
// the connection shares, and nothing of the others.
type TranscriptLine struct {
	// Text is the line as Transcript writes it, without the newline and
	// with local parts shown: "C: RCPT TO:<jane@example.com>",
	// "S: 250 2.1.5 Ok", or a note such as "* connected to ...".
	Text string
	// Rcpt is the recipient the line belongs to: the address of a RCPT
	// command, on the command and on the reply to it (replies are matched
	// to commands in order, pipelined or not). A reply after the opening
	// that names, in angle brackets, another address than its command's
	// (and than MAIL FROM's) answers another command: it belongs to the
	// address it names. Empty for the lines the recipients share: notes,
	// the banner, EHLO, STARTTLS, MAIL FROM, RSET, QUIT and their replies.
	Rcpt string
	// Conn is the connection the line was on, counted from 1 as
	// [Session.Connections] counts them.
	Conn int
	// Opening marks the lines of a connection's opening: from
	// "* connected" through the banner, EHLO and STARTTLS (or the refusal
	// that ended it), before any transaction.
	Opening bool
}

// command traces a command line as it goes out; its reply, read later in
// order, belongs to the same recipient.
func (s *Session) command(line string) {
	rcpt := rcptOf(line)
	s.owners = append(s.owners, rcpt)
	s.traceFor(rcpt, "C: ", line)
}

// replyOwner returns the recipient the reply r belongs to: that of the
// oldest command not yet answered, unless r names another address.
func (s *Session) replyOwner(r Reply) string {
	owner := ""
	if len(s.owners) > 0 {
		owner = s.owners[0]
		s.owners = s.owners[1:]
	}
	if s.opening {
		return owner
	}
	if q := namedAddress(r); q != "" && !strings.EqualFold(q, owner) && !strings.EqualFold(q, s.p.MailFrom) {
		return q
	}
	return owner
}

// rcptOf returns the address of a "RCPT TO:<address>" line, "" for other
// commands.
func rcptOf(line string) string {
	a, ok := strings.CutPrefix(line, "RCPT TO:<")
	if !ok {
		return ""
	}
	if i := strings.LastIndexByte(a, '>'); i >= 0 {
		a = a[:i]
	}
	return a
}

// trace writes a transcript line the session's recipients share.
func (s *Session) trace(prefix, line string) { s.traceFor("", prefix, line) }

// traceFor writes one transcript line belonging to rcpt ("" for shared):
// to Transcript with the local parts of the addresses probed in this
// session redacted (unless ShowLocalParts), and to TranscriptFunc as is.
func (s *Session) traceFor(rcpt, prefix, line string) {
	if f := s.p.TranscriptFunc; f != nil {
		f(TranscriptLine{Text: prefix + line, Rcpt: rcpt, Conn: s.conns, Opening: s.opening})
	}
	if s.p.Transcript == nil {
		return
	}
	if !s.p.ShowLocalParts {
		for _, l := range s.secret {
			line = replaceFold(line, l+"@", "***@")
		}
	}
	io.WriteString(s.p.Transcript, prefix+line+"\n")
}

// replaceFold replaces every case-insensitive occurrence of old in s.
func replaceFold(s, old, new string) string {
	if old == "" {
		return s
	}
	lower, lold := strings.ToLower(s), strings.ToLower(old)
	if !strings.Contains(lower, lold) || len(lower) != len(s) {
		return strings.ReplaceAll(s, old, new)
	}
	var b strings.Builder
	for {
		i := strings.Index(lower, lold)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(new)
		s, lower = s[i+len(old):], lower[i+len(old):]
	}
}
