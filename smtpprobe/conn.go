package smtpprobe

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/mailverify/mailverify/internal/ctxerr"
)

// A Session is one SMTP connection to one mail server, used to probe many
// recipients: MAIL FROM once per transaction, then RCPT per address. It
// reconnects by itself when the server closes the channel (421), before
// the server's error limits, and after a broken connection. A Session is
// not safe for concurrent use.
type Session struct {
	p       *Prober
	host    string // MX host name: TLS server name, transcript
	address string // "ip:port"

	conn net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	// queuedRcpts is the RCPT commands queued for the next flush (see pace).
	queuedRcpts int
	banner      Reply
	ext         map[string]string // EHLO keywords (upper case) -> parameters
	tls         *tls.ConnectionState
	noTLS       bool // the handshake failed once: opportunistic fallback

	inTx    bool // MAIL FROM accepted
	txUTF8  bool // the transaction was opened with SMTPUTF8
	txRcpts int  // recipients accepted in the transaction
	txSent  int  // recipients answered in the transaction, accepted or not
	txNum   int  // transactions opened in the session (Result.Tx)
	writes  int  // flushes of commands in the session (Result.Flush)
	txDone  bool // the next recipient opens a new transaction (ProbeFresh)
	// connRcpts counts the recipients answered on this connection;
	// perConn, when positive, is how many the server judges on one.
	connRcpts, perConn int
	noPipe             bool // replies fell out of step: no pipelining
	// oneDomain: the server takes recipients of one domain per
	// transaction (Quirks.OneDomainPerTx); txDomain is the open
	// transaction's.
	oneDomain bool
	txDomain  string
	// pendingRSET and pendingMail: commands queued to go with the next
	// RCPT batch; txErr is why that batch's transaction failed.
	pendingRSET, pendingMail bool
	txErr                    error
	// pendingAlone probes (ProbeWith) go in the next flush too, their
	// results in aloneRes; pendingErrs are the errors they may draw.
	pendingAlone, pendingErrs int
	aloneFirstRSET            bool
	aloneRes                  []Result
	// flushAt is when the last flush went, flushReplies how many of its
	// replies have been read (see readNext).
	flushAt      time.Time
	flushReplies int
	maxRcpt      int  // current cap, lowered by 452 4.5.3
	errors       int  // 4xx/5xx replies on this connection
	broken       bool // the connection is unusable
	conns        int  // connections made
	secret       []string
	// owners are the recipients of the commands sent and not yet
	// answered, in order ("" for commands of no recipient); opening is
	// set while a connection opens. See TranscriptLine.
	owners  []string
	opening bool
}

// Close ends the session politely with QUIT, waiting at most 5s for the
// reply, and closes the connection.
func (s *Session) Close() error { return s.CloseContext(context.Background()) }

// CloseContext is Close within ctx: when ctx is done or ends first, the
// connection is closed without waiting for the QUIT reply.
func (s *Session) CloseContext(ctx context.Context) error {
	if s.conn == nil {
		return nil
	}
	if !s.broken && ctxerr.Of(ctx) == nil {
		s.sayQuit(ctx)
	}
	err := s.conn.Close()
	s.conn, s.broken = nil, true
	return err
}

// sayQuit sends QUIT and waits for the reply within ctx, and at most 5s
// (or CommandTimeout when shorter): the connection is over either way.
func (s *Session) sayQuit(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, min(s.p.commandTimeout(), 5*time.Second))
	defer cancel()
	stop := s.watch(ctx)
	defer stop()
	s.cmd(ctx, "QUIT", "QUIT")
}

// watch expires the connection when ctx ends, so that no read or write
// outlives the caller (once connected, the dial context no longer governs
// the conn). The returned func stops watching.
func (s *Session) watch(ctx context.Context) func() bool {
	conn := s.conn
	return context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
}

// deadline sets the connection deadline for the next exchange: d from now,
// or ctx's deadline when earlier.
func (s *Session) deadline(ctx context.Context, d time.Duration) {
	t := time.Now().Add(d)
	if dl, ok := ctx.Deadline(); ok && dl.Before(t) {
		t = dl
	}
	s.conn.SetDeadline(t)
}

// fail marks the connection broken, closes it and returns err, mapped to
// ctx.Err() when the context ended it.
func (s *Session) fail(ctx context.Context, err error) error {
	s.broken = true
	if s.conn != nil {
		s.conn.Close()
	}
	if cerr := ctxerr.Of(ctx); cerr != nil && isTimeout(err) {
		return cerr
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// checkLine refuses a command line that could smuggle a second command.
func checkLine(line string) error {
	if strings.ContainsAny(line, "\r\n\x00") {
		return ErrInjection
	}
	return nil
}

// queue writes a command line to go with the next send, unflushed; the
// line must have passed checkLine (it is built from checked parts).
func (s *Session) queue(line string) {
	if strings.HasPrefix(line, "RCPT TO:") {
		s.queuedRcpts++
	}
	s.command(line)
	s.bw.WriteString(line)
	s.bw.WriteString("\r\n")
}

// send writes command lines in one flush (one round trip when pipelined).
func (s *Session) send(ctx context.Context, lines ...string) error {
	for _, l := range lines {
		if err := checkLine(l); err != nil {
			return err
		}
	}
	if s.br.Buffered() > 0 {
		// A reply nobody asked for is waiting: every later reply would be
		// taken for the wrong command.
		s.noPipe = true
		s.trace("", "* a reply arrived before the command; reconnecting")
		return s.fail(ctx, ErrOutOfStep)
	}
	if err := s.pace(ctx, lines); err != nil {
		return s.fail(ctx, err)
	}
	s.deadline(ctx, s.p.commandTimeout())
	for _, l := range lines {
		s.command(l)
		s.bw.WriteString(l)
		s.bw.WriteString("\r\n")
	}
	if err := s.bw.Flush(); err != nil {
		return s.fail(ctx, err)
	}
	s.flushAt, s.flushReplies = time.Now(), 0
	s.writes++
	return nil
}

// read reads one reply within the command timeout.
func (s *Session) read(ctx context.Context, timeout time.Duration) (Reply, error) {
	s.deadline(ctx, timeout)
	r, err := readReply(s.br, s.p.maxLine(), s.p.maxLines())
	if err != nil {
		return Reply{}, s.fail(ctx, err)
	}
	owner := s.replyOwner(r)
	for i, l := range r.Lines {
		prefix := fmt.Sprintf("S: %d-", r.Code)
		if i == len(r.Lines)-1 {
			prefix = fmt.Sprintf("S: %d ", r.Code)
		}
		if i == 0 && !r.Enhanced.IsZero() {
			l = r.Enhanced.String() + " " + l
		}
		s.traceFor(owner, prefix, l)
	}
	if r.Code >= 400 {
		s.errors++
	}
	return r, nil
}

// cmd sends one command and reads its reply.
func (s *Session) cmd(ctx context.Context, verb, line string) (Reply, error) {
	if err := s.send(ctx, line); err != nil {
		return Reply{}, err
	}
	return s.read(ctx, s.p.commandTimeout())
}

// connect opens a connection and brings it to the state where MAIL FROM
// can be sent: banner, EHLO (or HELO), STARTTLS per policy.
func (s *Session) connect(ctx context.Context) error {
	s.conns++
	s.opening, s.owners = true, nil
	defer func() { s.opening = false }()
	s.inTx, s.txUTF8, s.txRcpts, s.txSent, s.errors, s.broken, s.tls = false, false, 0, 0, 0, false, nil
	s.connRcpts, s.pendingRSET, s.pendingMail, s.txErr = 0, false, false, nil
	s.pendingAlone, s.pendingErrs = 0, 0 // their results stay "not answered"
	if s.maxRcpt == 0 {
		s.maxRcpt = s.p.maxRcpts()
	}
	clear(s.ext)
	dctx, cancel := context.WithTimeout(ctx, s.p.connectTimeout())
	conn, err := s.p.dialer().DialContext(dctx, "tcp", s.address)
	cancel()
	if err != nil {
		s.broken = true
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	s.conn, s.br, s.bw = conn, bufio.NewReader(conn), bufio.NewWriter(conn)
	s.queuedRcpts = 0
	stop := s.watch(ctx)
	defer func() { stop() }()
	s.trace("", "* connected to "+s.host+" ["+s.address+"]")

	if s.banner, err = s.read(ctx, s.p.greetingTimeout()); err != nil {
		return err
	}
	if s.banner.Code != 220 {
		if s.banner.Code == 554 {
			s.cmd(ctx, "QUIT", "QUIT") // RFC 5321 section 3.1: the client should QUIT
		}
		s.fail(ctx, nil)
		return &ReplyError{Cmd: "CONNECT", Reply: s.banner}
	}
	if err := s.hello(ctx); err != nil {
		return err
	}
	if _, ok := s.ext["STARTTLS"]; !ok || s.p.TLS == TLSNever || s.noTLS {
		if s.p.TLS == TLSRequired {
			s.quit(ctx)
			return ErrTLSRequired
		}
		s.logOpen(ctx)
		return nil
	}
	r, err := s.cmd(ctx, "STARTTLS", "STARTTLS")
	if err != nil {
		return err
	}
	if r.Code != 220 {
		if s.p.TLS == TLSRequired {
			s.quit(ctx)
			return &ReplyError{Cmd: "STARTTLS", Reply: r}
		}
		s.logOpen(ctx)
		return nil // 454 and kin: go on in the clear
	}
	tc := tls.Client(s.conn, s.p.tlsConfig(s.host))
	s.deadline(ctx, s.p.commandTimeout())
	if err := tc.HandshakeContext(ctx); err != nil {
		s.fail(ctx, err)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if s.p.TLS == TLSRequired {
			return &HandshakeError{Err: err}
		}
		s.noTLS = true
		s.trace("", "* TLS handshake failed ("+err.Error()+"); reconnecting without TLS")
		return s.connect(ctx)
	}
	state := tc.ConnectionState()
	s.conn, s.br, s.bw, s.tls = tc, bufio.NewReader(tc), bufio.NewWriter(tc), &state
	stop()
	stop = s.watch(ctx)
	if err := s.hello(ctx); err != nil {
		return err
	}
	s.logOpen(ctx)
	return nil
}

// A HandshakeError is a failed STARTTLS handshake under TLSRequired.
type HandshakeError struct{ Err error }

// Error describes the failed handshake.
func (e *HandshakeError) Error() string { return "smtpprobe: TLS handshake: " + e.Err.Error() }

// Unwrap returns the crypto/tls error.
func (e *HandshakeError) Unwrap() error { return e.Err }

// hello sends EHLO, and HELO when EHLO is refused with 5xx.
func (s *Session) hello(ctx context.Context) error {
	clear(s.ext)
	r, err := s.cmd(ctx, "EHLO", "EHLO "+s.p.helo())
	if err != nil {
		return err
	}
	if r.Code == 250 {
		for _, l := range r.Lines[1:] {
			k, v, _ := strings.Cut(l, " ")
			s.ext[strings.ToUpper(k)] = v
		}
		// A server that says more than its EHLO reply is out of step from
		// the start; listen a moment for it.
		if !s.settled(ctx) {
			s.fail(ctx, ErrOutOfStep)
			return ErrOutOfStep
		}
		return nil
	}
	if r.Code/100 != 5 {
		s.quit(ctx)
		return &ReplyError{Cmd: "EHLO", Reply: r}
	}
	r, err = s.cmd(ctx, "HELO", "HELO "+s.p.helo())
	if err != nil {
		return err
	}
	if r.Code != 250 {
		s.quit(ctx)
		return &ReplyError{Cmd: "HELO", Reply: r}
	}
	return nil
}

// quit says QUIT, ignoring the answer, and closes the connection.
func (s *Session) quit(ctx context.Context) {
	if !s.broken {
		s.cmd(ctx, "QUIT", "QUIT")
	}
	s.fail(ctx, nil)
}

// pace waits for Prober.Pace to let the RCPT commands of the next flush
// go: those queued and those among lines.
func (s *Session) pace(ctx context.Context, lines []string) error {
	n := s.queuedRcpts
	s.queuedRcpts = 0
	for _, l := range lines {
		if strings.HasPrefix(l, "RCPT TO:") {
			n++
		}
	}
	if n == 0 || s.p.Pace == nil {
		return nil
	}
	return s.p.Pace(ctx, n)
}
