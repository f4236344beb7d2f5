// Package testsmtp is a scripted, in-process SMTP server for tests: every
// command gets a reply from a handler, with optional delays, hangs, drops
// and raw garbage, and the conversation is recorded. It serves a listener
// (127.0.0.1:0 in tests) or a single net.Conn, such as one end of
// net.Pipe inside a testing/synctest bubble.
//
// It is the project's harness, not API: it implements just enough of RFC
// 5321 to talk to a client that never sends DATA content.
package testsmtp

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A Reply is what the server answers to one command.
type Reply struct {
	Code     int      // e.g. 250
	Enhanced string   // e.g. "2.1.5"; "" for none
	Lines    []string // text lines; a multi-line reply has several
	Delay    time.Duration
	// Hang: never answer; the connection stays open until the client or
	// the server's context gives up.
	Hang bool
	// Drop: close the connection instead of answering.
	Drop bool
	// Raw, when not empty, is written verbatim instead of a formatted reply
	// (garbage, huge or endless replies).
	Raw string
	// Drip writes the reply one byte per Drip interval.
	Drip time.Duration
	// Reset closes the connection after writing half of the reply.
	Reset bool
}

// R builds a one-line reply.
func R(code int, enhanced, text string) Reply {
	return Reply{Code: code, Enhanced: enhanced, Lines: []string{text}}
}

func (r Reply) format() string {
	if r.Raw != "" {
		return r.Raw
	}
	lines := r.Lines
	if len(lines) == 0 {
		lines = []string{""}
	}
	var b strings.Builder
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		text := l
		if r.Enhanced != "" {
			text = r.Enhanced + " " + l
		}
		fmt.Fprintf(&b, "%d%s%s\r\n", r.Code, sep, strings.TrimRight(text, " "))
	}
	return b.String()
}

// A Command is one command line the client sent.
type Command struct {
	Verb string // upper case: EHLO, MAIL, RCPT, ...
	Arg  string // the rest of the line after the verb and a space
}

// A Conn is the server's view of one client connection, given to handlers.
type Conn struct {
	Index    int  // 0 for the server's first connection, and so on
	TLS      bool // STARTTLS has completed
	Errors   int  // 4xx and 5xx replies sent on this connection
	Rcpts    int  // RCPT commands in the current transaction
	HaveMail bool // a MAIL command was accepted in the current transaction
	Helo     string
	Peer     string // the client's address, as the listener saw it
	server   *Server
}

// A Handler answers one command.
type Handler func(c *Conn, cmd Command) Reply

// Server is a scripted SMTP server. Set its fields before serving; a zero
// Server accepts every recipient.
type Server struct {
	// Banner is the greeting; zero means 220 testsmtp ESMTP.
	Banner Reply
	// Extensions are advertised in the EHLO reply; nil means PIPELINING,
	// 8BITMIME, SMTPUTF8 and SIZE. STARTTLS is added when TLS is set.
	Extensions []string
	// TLS enables STARTTLS with this configuration; see SelfSigned.
	TLS *tls.Config
	// Handlers override the default answer per verb (upper case).
	Handlers map[string]Handler
	// SoftErrorLimit and HardErrorLimit mimic Postfix's smtpd_soft_error_limit
	// (sleep ErrorSleep before each reply once reached) and
	// smtpd_hard_error_limit (disconnect once reached). Zero disables them.
	SoftErrorLimit, HardErrorLimit int
	ErrorSleep                     time.Duration
	// ReplyDelay is added before every reply.
	ReplyDelay time.Duration
	// Latency is the round-trip time DialContext simulates between client
	// and server (see dialWithLatency); zero connects them directly.
	Latency time.Duration
	// OneCommandPerRead mimics a server that advertises PIPELINING but
	// handles only the first command of each read and drops the rest.
	OneCommandPerRead bool

	flushes   atomic.Int64 // client writes through the simulated network
	conns     atomic.Int32 // connections served so far
	open      atomic.Int32 // connections open now
	maxOpen   atomic.Int32 // the most connections open at once
	mu        sync.Mutex
	lines     []string // transcript, "C: ..." and "S: ..."
	wg        sync.WaitGroup
	listeners []net.Listener
	ctx       context.Context // cancelled by Close
	cancel    context.CancelFunc
	closed    bool // set by Close; no goroutine starts after it
}

// Connections returns how many connections the server has accepted.
func (s *Server) Connections() int { return int(s.conns.Load()) }

// Open returns how many connections are open now.
func (s *Server) Open() int { return int(s.open.Load()) }

// MaxOpen returns the most connections that were open at once.
func (s *Server) MaxOpen() int { return int(s.maxOpen.Load()) }

// Transcript returns the conversation so far, one "C: " or "S: " line per
// protocol line.
func (s *Server) Transcript() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

// Count returns how many commands with the verb the server received.
func (s *Server) Count(verb string) int {
	n := 0
	for _, l := range s.Transcript() {
		if strings.HasPrefix(strings.ToUpper(l), "C: "+verb) {
			n++
		}
	}
	return n
}

func (s *Server) record(prefix, line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.lines) < 100000 {
		s.lines = append(s.lines, prefix+line)
	}
}

// base returns the context that Close cancels.
func (s *Server) base() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == nil {
		s.ctx, s.cancel = context.WithCancel(context.Background())
	}
	return s.ctx
}

// Serve accepts connections on l until Close. It returns at once; the
// connections are served in goroutines that Close waits for.
func (s *Server) Serve(l net.Listener) {
	s.base()
	s.mu.Lock()
	s.listeners = append(s.listeners, l)
	s.mu.Unlock()
	if !s.spawn(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.ServeConn(c)
		}
	}) {
		l.Close()
	}
}

// ServeConn serves one connection in a goroutine that Close waits for.
// After Close it closes c at once.
func (s *Server) ServeConn(c net.Conn) {
	done := s.base()
	if !s.spawn(func() { s.serveConn(c, done) }) {
		c.Close()
	}
}

// spawn runs f in a goroutine that Close waits for, unless Close has
// begun: then it reports false and runs nothing. The closed flag and the
// WaitGroup's Add share s.mu, so every Add happens before Close's Wait
// (a dial racing Close would otherwise reuse the WaitGroup mid-Wait).
func (s *Server) spawn(f func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Go(f)
	return true
}

// Listen serves on a new listener on 127.0.0.1:0 and returns its address.
func (s *Server) Listen() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	s.Serve(l)
	return l.Addr().String(), nil
}

// Close stops the listeners, ends every connection and waits for the
// server's goroutines.
func (s *Server) Close() {
	s.base()
	s.mu.Lock()
	s.closed = true
	s.cancel()
	for _, l := range s.listeners {
		l.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Pipe returns the client end of a net.Pipe whose server end this server
// serves; for tests in a testing/synctest bubble.
func (s *Server) Pipe() net.Conn {
	client, server := net.Pipe()
	s.ServeConn(server)
	return client
}

// DialContext makes the Server a dialer: every dial gets a new net.Pipe
// served by it, whatever the address.
func (s *Server) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.Latency > 0 {
		return s.dialWithLatency(s.Latency)
	}
	client, server := net.Pipe()
	if !s.spawn(func() { s.serveConn(server, s.base()) }) {
		client.Close()
		return nil, net.ErrClosed
	}
	return client, nil
}
