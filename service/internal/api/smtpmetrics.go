package api

import (
	"bytes"
	"context"
	"net"
	"net/http"

	"github.com/mailverify/mailverify/smtpprobe"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// SMTPTap is a verify.Verifier TranscriptWriter that counts the
// conversation: commands by verb (mailverify_smtp_commands_total: RCPT,
// MAIL, EHLO, ...) and replies by class. It reads nothing else of the
// lines, and keeps none.
func (m *Metrics) SMTPTap() *Tap { return &Tap{m: m} }

// A Tap counts transcript lines; see SMTPTap.
type Tap struct{ m *Metrics }

func (t *Tap) Write(p []byte) (int, error) {
	for line := range bytes.Lines(p) {
		switch {
		case bytes.HasPrefix(line, []byte("C: ")):
			verb, _, _ := bytes.Cut(line[3:], []byte(" "))
			verb = bytes.TrimRight(verb, "\r\n")
			if i := bytes.IndexByte(verb, ':'); i >= 0 {
				verb = verb[:i] // "RCPT TO:<...>" has its space first, but be sure
			}
			if v := string(bytes.ToUpper(verb)); knownVerb[v] {
				t.m.commands.WithLabelValues(v).Inc()
			}
		case bytes.HasPrefix(line, []byte("S: ")) && len(line) >= 6:
			if c := line[3]; c >= '2' && c <= '5' && (len(line) < 7 || line[6] == ' ') {
				t.m.serverReplies.WithLabelValues(string(c) + "xx").Inc()
			}
		}
	}
	return len(p), nil
}

var knownVerb = map[string]bool{"EHLO": true, "HELO": true, "STARTTLS": true, "MAIL": true, "RCPT": true, "RSET": true, "QUIT": true, "NOOP": true}

// Dialer counts the SMTP connections d opens (nil: a net.Dialer), by
// outcome.
func (m *Metrics) Dialer(d smtpprobe.Dialer) smtpprobe.Dialer {
	if d == nil {
		d = &net.Dialer{}
	}
	return countingDialer{d, m}
}

type countingDialer struct {
	d smtpprobe.Dialer
	m *Metrics
}

func (c countingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := c.d.DialContext(ctx, network, addr)
	outcome := "ok"
	if err != nil {
		outcome = "failed"
	}
	c.m.connections.WithLabelValues(outcome).Inc()
	return conn, err
}

// Handler serves the metrics alone, for a worker's --metrics listener.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
