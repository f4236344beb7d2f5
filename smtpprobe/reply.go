package smtpprobe

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// An EnhancedCode is an RFC 3463 enhanced status code, class.subject.detail
// (such as 5.1.1). The zero value means the reply had none.
type EnhancedCode struct {
	Class, Subject, Detail int
}

// IsZero reports whether the reply carried no enhanced code.
func (e EnhancedCode) IsZero() bool { return e == EnhancedCode{} }

// String returns "class.subject.detail", or "" for none.
func (e EnhancedCode) String() string {
	if e.IsZero() {
		return ""
	}
	return fmt.Sprintf("%d.%d.%d", e.Class, e.Subject, e.Detail)
}

// MarshalText implements encoding.TextMarshaler: "5.1.1", or "" for none.
func (e EnhancedCode) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// ParseEnhancedCode parses "class.subject.detail" at the start of s (RFC
// 3463 section 2: class 2, 4 or 5; subject and detail of 1 to 3 digits)
// and returns it with the rest of s after one space. It reports false when
// s does not begin with one.
func ParseEnhancedCode(s string) (EnhancedCode, string, bool) {
	var parts [3]int
	i := 0
	for p := range 3 {
		start := i
		for i < len(s) && i-start < 4 && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		n := i - start
		if n == 0 || n > 3 || p == 0 && n != 1 {
			return EnhancedCode{}, s, false
		}
		parts[p], _ = strconv.Atoi(s[start:i])
		if p < 2 {
			if i >= len(s) || s[i] != '.' {
				return EnhancedCode{}, s, false
			}
			i++
		}
	}
	if i < len(s) && s[i] != ' ' {
		return EnhancedCode{}, s, false
	}
	if c := parts[0]; c != 2 && c != 4 && c != 5 {
		return EnhancedCode{}, s, false
	}
	rest := s[i:]
	if rest != "" {
		rest = rest[1:]
	}
	return EnhancedCode{parts[0], parts[1], parts[2]}, rest, true
}

// A Reply is one SMTP reply: the code, the enhanced code of its first
// line when it has one, and the text lines without code or enhanced code.
type Reply struct {
	Code     int          `json:"code"`
	Enhanced EnhancedCode `json:"enhanced_code"`
	Lines    []string     `json:"lines"`
}

// Text returns the reply's lines joined by spaces.
func (r Reply) Text() string { return strings.Join(r.Lines, " ") }

// Transient reports a 4xx reply: the same command may succeed later.
func (r Reply) Transient() bool { return r.Code/100 == 4 }

// String returns the reply as one line: code, enhanced code, text.
func (r Reply) String() string {
	s := strconv.Itoa(r.Code)
	if !r.Enhanced.IsZero() {
		s += " " + r.Enhanced.String()
	}
	if t := r.Text(); t != "" {
		s += " " + t
	}
	return s
}

// A ReplyError is a reply that refused a command.
type ReplyError struct {
	Cmd   string // the command verb, e.g. "MAIL"
	Reply Reply
}

// Error names the refused command and the reply.
func (e *ReplyError) Error() string {
	return "smtpprobe: " + e.Cmd + " refused: " + e.Reply.String()
}

// Transient reports a 4xx refusal.
func (e *ReplyError) Transient() bool { return e.Reply.Transient() }

// Errors of the reply reader. Each ends the session: after a malformed
// reply the client cannot know where the next one starts.
var (
	ErrLineTooLong  = errors.New("smtpprobe: reply line too long")
	ErrTooManyLines = errors.New("smtpprobe: reply has too many lines")
	ErrMalformed    = errors.New("smtpprobe: malformed reply")
	ErrInjection    = errors.New("smtpprobe: command contains CR, LF or NUL")
	ErrNoSMTPUTF8   = errors.New("smtpprobe: address needs SMTPUTF8, which the server does not offer")
	ErrTLSRequired  = errors.New("smtpprobe: STARTTLS required but not available")
)

// readLine reads one line of at most max bytes, without its CRLF (a bare
// LF is tolerated, as servers send it).
func readLine(br *bufio.Reader, max int) (string, error) {
	var b []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(b)+len(chunk) > max+2 {
			return "", ErrLineTooLong
		}
		b = append(b, chunk...)
		switch {
		case err == nil:
			b = b[:len(b)-1]
			if n := len(b); n > 0 && b[n-1] == '\r' {
				b = b[:n-1]
			}
			return string(b), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(b) > 0:
			return "", io.ErrUnexpectedEOF
		default:
			return "", err
		}
	}
}

// readReply reads one possibly multi-line reply (RFC 5321 section 4.2):
// lines "NNN-text" ending with "NNN text" or "NNN", every line with the
// same code. Lines are capped at maxLine bytes and replies at maxLines
// lines, so a hostile server cannot make the client buffer without bound.
func readReply(br *bufio.Reader, maxLine, maxLines int) (Reply, error) {
	var r Reply
	for n := 0; ; n++ {
		if n == maxLines {
			return Reply{}, ErrTooManyLines
		}
		line, err := readLine(br, maxLine)
		if err != nil {
			return Reply{}, err
		}
		code, more, text, err := parseReplyLine(line)
		if err != nil {
			return Reply{}, err
		}
		if n == 0 {
			r.Code = code
		} else if code != r.Code {
			return Reply{}, fmt.Errorf("%w: code %d in a reply that began with %d", ErrMalformed, code, r.Code)
		}
		if e, rest, ok := ParseEnhancedCode(text); ok && e.Class == code/100 {
			if n == 0 {
				r.Enhanced = e
			}
			if e == r.Enhanced {
				text = rest
			}
		}
		r.Lines = append(r.Lines, text)
		if !more {
			return r, nil
		}
	}
}

// ParseReply reads a reply quoted as text, as bounces and mail logs carry
// it ("550 5.1.1 <jane@example.com>: User unknown"): its first line gives
// the code and enhanced code, the rest of it the text. It fails with
// ErrMalformed when the text does not begin with a reply code.
func ParseReply(s string) (Reply, error) {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	code, _, text, err := parseReplyLine(strings.TrimRight(line, "\r"))
	if err != nil {
		return Reply{}, err
	}
	r := Reply{Code: code}
	if e, rest, ok := ParseEnhancedCode(text); ok && e.Class == code/100 {
		r.Enhanced, text = e, rest
	}
	r.Lines = []string{text}
	return r, nil
}

// parseReplyLine splits "250-text" or "250 text" or "250".
func parseReplyLine(line string) (code int, more bool, text string, err error) {
	if len(line) < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' || line[2] < '0' || line[2] > '9' {
		return 0, false, "", fmt.Errorf("%w: %q", ErrMalformed, shorten(line))
	}
	code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	switch {
	case len(line) == 3:
		return code, false, "", nil
	case line[3] == '-':
		return code, true, line[4:], nil
	case line[3] == ' ':
		return code, false, line[4:], nil
	}
	return 0, false, "", fmt.Errorf("%w: %q", ErrMalformed, shorten(line))
}

func shorten(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
