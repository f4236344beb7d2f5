package smtpprobe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"
)

// A Dialer opens connections. It is the method set of x/net/proxy's
// ContextDialer, so *net.Dialer, proxy.SOCKS5's dialer and test dialers
// over net.Pipe all plug in.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// TLSPolicy says when a session uses STARTTLS (RFC 3207).
type TLSPolicy int

const (
	// TLSOpportunistic uses STARTTLS when offered; if the handshake fails
	// it reconnects once without it, as MTAs do (RFC 7435). The default.
	TLSOpportunistic TLSPolicy = iota
	// TLSNever never sends STARTTLS.
	TLSNever
	// TLSRequired fails the session when STARTTLS is not offered or fails.
	TLSRequired
)

// A Prober opens SMTP sessions that probe recipients without sending mail:
// EHLO (HELO as fallback), STARTTLS, MAIL FROM, RCPT TO, then QUIT; never
// DATA. The zero value works; its defaults are documented per field. A
// Prober is safe for concurrent use and must not be changed after first
// use.
type Prober struct {
	// Dialer opens the TCP connections; nil means a *net.Dialer.
	Dialer Dialer
	// HELO is the name given in EHLO/HELO. Empty means the machine's host
	// name when it is a fully qualified name, else "localhost". Receivers
	// check it against the connecting IP's PTR record: set it to a name
	// whose A record and PTR match your IP (forward-confirmed reverse DNS),
	// or expect "blocked" outcomes.
	HELO string
	// MailFrom is the reverse-path of MAIL FROM, without angle brackets.
	// Empty means the null reverse-path "<>", which claims no identity; set
	// an address at your own domain if receivers refuse it. Never use an
	// address you do not control.
	MailFrom string
	// TLS is the STARTTLS policy; the zero value is TLSOpportunistic.
	TLS TLSPolicy
	// TLSConfig configures STARTTLS. Nil means a configuration that does not
	// verify the certificate: opportunistic TLS between mail servers is
	// unauthenticated in practice (RFC 7435), and a verifier that refused
	// self-signed certificates would misjudge many working servers. Set
	// one to verify. ServerName defaults to the MX host name.
	TLSConfig *tls.Config
	// ConnectTimeout bounds the TCP connect; zero means 10s.
	ConnectTimeout time.Duration
	// GreetingTimeout bounds the wait for the 220 banner; zero means 30s.
	// RFC 5321 section 4.5.3.2 allows servers 5 minutes, but greeting
	// delays used against spam (Postfix postscreen) are a few seconds.
	GreetingTimeout time.Duration
	// CommandTimeout bounds each command's reply; zero means 30s. RFC 5321
	// gives 5 minutes for delivery; a verifier reports Timeout sooner.
	CommandTimeout time.Duration
	// MaxRcpts caps recipients per transaction (MAIL FROM); zero means 20.
	// A 452 4.5.3 "too many recipients" lowers it for the session.
	MaxRcpts int
	// PipelineBatch caps the RCPT commands sent in one round trip when the
	// server offers PIPELINING (RFC 2920); zero means 10, one disables
	// pipelining.
	PipelineBatch int
	// MaxErrors is how many 4xx/5xx replies a session takes before it
	// reconnects; zero means 8. A pipelined batch may bring the count one
	// past it, so the default stays under Postfix's smtpd_soft_error_limit
	// of 10, at which Postfix slows every reply down (and at 20
	// disconnects).
	MaxErrors int
	// Pace, when set, is called before each flush that carries RCPT
	// commands, with how many it carries (probes, retries and the
	// transactions of ProbeEach alike), and may wait: it is the hook for a
	// per-server rate limit that counts every recipient the server sees.
	// An error (ctx ended) closes the connection unflushed, and the
	// recipients get the error's outcome, as for a broken connection.
	Pace func(ctx context.Context, rcpts int) error
	// MaxLineLength and MaxReplyLines bound what a server may send in one
	// reply; zero means 2048 bytes (RFC 5321 allows 512) and 100 lines.
	MaxLineLength, MaxReplyLines int
	// Transcript, when set, receives the conversation, one "C: " or "S: "
	// line per protocol line. Local parts of probed addresses are replaced
	// by "***" unless ShowLocalParts is set: addresses are personal data.
	Transcript     io.Writer
	ShowLocalParts bool
	// TranscriptFunc, when set, receives the same lines one by one, each
	// with the recipient it belongs to (see TranscriptLine), so that a
	// caller whose sessions carry many people's addresses can show each
	// recipient its own part of the conversation and the shared lines,
	// and nothing addressed to another. Local parts are not redacted
	// there (ShowLocalParts is for Transcript): the function receives
	// personal data and answers for it. It is called on the goroutine
	// using the session, and must not block.
	TranscriptFunc func(TranscriptLine)
	// Logger receives Debug records of protocol steps; nil means silent.
	Logger *slog.Logger
}

// ErrConfig reports a Prober field that cannot go on the wire.
var ErrConfig = errors.New("smtpprobe: invalid configuration")

// check validates the configuration before any connection is made.
func (p *Prober) check() error {
	if checkLine(p.helo()) != nil || strings.ContainsAny(p.helo(), " <>") {
		return fmt.Errorf("%w: HELO %q", ErrConfig, p.helo())
	}
	if checkLine(p.MailFrom) != nil || strings.ContainsAny(p.MailFrom, " <>") {
		return fmt.Errorf("%w: MailFrom %q", ErrConfig, p.MailFrom)
	}
	return nil
}

func (p *Prober) dialer() Dialer {
	if p.Dialer != nil {
		return p.Dialer
	}
	return &net.Dialer{}
}

func (p *Prober) helo() string {
	if p.HELO != "" {
		return p.HELO
	}
	if h, err := os.Hostname(); err == nil && strings.Contains(h, ".") && !strings.ContainsAny(h, " \r\n") {
		return h
	}
	return "localhost"
}

func orDefault[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

func (p *Prober) connectTimeout() time.Duration  { return orDefault(p.ConnectTimeout, 10*time.Second) }
func (p *Prober) greetingTimeout() time.Duration { return orDefault(p.GreetingTimeout, 30*time.Second) }
func (p *Prober) commandTimeout() time.Duration  { return orDefault(p.CommandTimeout, 30*time.Second) }
func (p *Prober) maxRcpts() int                  { return orDefault(p.MaxRcpts, 20) }
func (p *Prober) pipelineBatch() int             { return orDefault(p.PipelineBatch, 10) }
func (p *Prober) maxErrors() int                 { return orDefault(p.MaxErrors, 8) }
func (p *Prober) maxLine() int                   { return orDefault(p.MaxLineLength, 2048) }
func (p *Prober) maxLines() int                  { return orDefault(p.MaxReplyLines, 100) }

func (p *Prober) logger() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (p *Prober) tlsConfig(host string) *tls.Config {
	var c *tls.Config
	if p.TLSConfig != nil {
		c = p.TLSConfig.Clone()
	} else {
		c = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // opportunistic TLS, documented on TLSConfig
	}
	if c.ServerName == "" {
		c.ServerName = host
	}
	return c
}

// Open connects to the mail server at address ("ip:port") for the MX host
// named host, reads the banner, says EHLO and, per the TLS policy, starts
// TLS. It returns a session ready for [Session.Probe]. A refused session
// is an error: a *ReplyError for a refusing banner, EHLO or STARTTLS, a
// net error, or ErrTLSRequired; [OutcomeOf] classifies it.
func (p *Prober) Open(ctx context.Context, host, address string) (*Session, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	s := &Session{p: p, host: host, address: address, ext: map[string]string{}}
	if err := s.connect(ctx); err != nil {
		return nil, err
	}
	return s, nil
}
