package testsmtp

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"time"
)

// One connection: the command loop, replies with their delays and limits,
// and the handlers' answers.

// maxLine bounds the command lines the server reads.
const maxLine = 4096

func (s *Server) serveConn(nc net.Conn, done context.Context) {
	idx := int(s.conns.Add(1)) - 1
	for n := s.open.Add(1); ; {
		m := s.maxOpen.Load()
		if n <= m || s.maxOpen.CompareAndSwap(m, n) {
			break
		}
	}
	// A session is over once QUIT is answered (RFC 5321 section
	// 4.1.1.10): the client may connect again as soon as it reads 221,
	// before this goroutine has seen it close.
	var closed atomic.Bool
	end := func() {
		if closed.CompareAndSwap(false, true) {
			s.open.Add(-1)
		}
	}
	defer end()
	c := &Conn{Index: idx, server: s, Peer: nc.RemoteAddr().String()}
	stop := context.AfterFunc(done, func() { nc.Close() })
	defer stop()
	defer nc.Close()

	br := bufio.NewReader(nc)
	banner := s.Banner
	if banner.Code == 0 && banner.Raw == "" && !banner.Hang && !banner.Drop {
		banner = R(220, "", "testsmtp ESMTP ready")
	}
	switch {
	case !s.reply(nc, c, banner, done):
		return
	case banner.Code == 554: // refused: wait for QUIT (RFC 5321 section 3.1)
		s.drainQuit(nc, br, c, done)
		return
	case banner.Code >= 400: // 421: closing
		return
	}
	for {
		line, err := readLine(br)
		if err != nil {
			return
		}
		if s.OneCommandPerRead {
			br.Discard(br.Buffered())
		}
		s.record("C: ", line)
		verb, arg, _ := strings.Cut(line, " ")
		cmd := Command{Verb: strings.ToUpper(verb), Arg: arg}
		r := s.answer(c, cmd)
		if s.SoftErrorLimit > 0 && c.Errors >= s.SoftErrorLimit {
			r.Delay += s.ErrorSleep
		}
		if r.Code >= 400 {
			c.Errors++
		}
		if cmd.Verb == "QUIT" {
			end()
		}
		if !s.reply(nc, c, r, done) {
			return
		}
		if s.HardErrorLimit > 0 && c.Errors >= s.HardErrorLimit {
			s.reply(nc, c, R(421, "4.7.0", "Too many errors"), done)
			return
		}
		switch {
		case cmd.Verb == "QUIT" || r.Code == 421:
			return
		case cmd.Verb == "STARTTLS" && r.Code == 220 && s.TLS != nil && !c.TLS:
			tc := tls.Server(nc, s.TLS)
			if err := tc.Handshake(); err != nil {
				return
			}
			nc, br, c.TLS = tc, bufio.NewReader(tc), true
			c.Helo, c.HaveMail, c.Rcpts = "", false, 0
		}
	}
}

// drainQuit answers QUIT after a refusing banner (RFC 5321 section 3.1).
func (s *Server) drainQuit(nc net.Conn, br *bufio.Reader, c *Conn, done context.Context) {
	for {
		line, err := readLine(br)
		if err != nil {
			return
		}
		s.record("C: ", line)
		if strings.EqualFold(strings.TrimSpace(line), "QUIT") {
			s.reply(nc, c, R(221, "2.0.0", "Bye"), done)
			return
		}
		if !s.reply(nc, c, R(503, "5.5.1", "Bad sequence of commands"), done) {
			return
		}
	}
}

func readLine(br *bufio.Reader) (string, error) {
	var b []byte
	for {
		chunk, isPrefix, err := br.ReadLine()
		if err != nil {
			return "", err
		}
		b = append(b, chunk...)
		if len(b) > maxLine {
			return "", io.ErrShortBuffer
		}
		if !isPrefix {
			return string(b), nil
		}
	}
}

// reply writes r and reports whether the connection goes on.
func (s *Server) reply(nc net.Conn, c *Conn, r Reply, done context.Context) bool {
	wait := func(d time.Duration) bool {
		if d <= 0 {
			return true
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-done.Done():
			return false
		}
	}
	if !wait(r.Delay + s.ReplyDelay) {
		return false
	}
	if r.Hang {
		<-done.Done()
		return false
	}
	if r.Drop {
		return false
	}
	text := r.format()
	s.record("S: ", strings.TrimRight(text, "\r\n"))
	switch {
	case r.Reset:
		nc.Write([]byte(text[:len(text)/2]))
		if tc, ok := nc.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		return false
	case r.Drip > 0:
		for i := 0; i < len(text); i++ {
			if _, err := nc.Write([]byte{text[i]}); err != nil || !wait(r.Drip) {
				return false
			}
		}
		return true
	}
	_, err := io.WriteString(nc, text)
	return err == nil
}

func (s *Server) answer(c *Conn, cmd Command) Reply {
	if h, ok := s.Handlers[cmd.Verb]; ok {
		r := h(c, cmd)
		s.track(c, cmd, r)
		return r
	}
	var r Reply
	switch cmd.Verb {
	case "EHLO":
		lines := []string{"testsmtp greets " + cmd.Arg}
		ext := s.Extensions
		if ext == nil {
			ext = []string{"PIPELINING", "8BITMIME", "SMTPUTF8", "SIZE 10240000"}
		}
		lines = append(lines, ext...)
		if s.TLS != nil && !c.TLS {
			lines = append(lines, "STARTTLS")
		}
		r = Reply{Code: 250, Lines: lines}
	case "HELO":
		r = R(250, "", "testsmtp")
	case "STARTTLS":
		if s.TLS == nil || c.TLS {
			r = R(502, "5.5.1", "Command not implemented")
		} else {
			r = R(220, "2.0.0", "Ready to start TLS")
		}
	case "MAIL":
		r = R(250, "2.1.0", "Ok")
	case "RCPT":
		if !c.HaveMail {
			r = R(503, "5.5.1", "Error: need MAIL command")
		} else {
			r = R(250, "2.1.5", "Ok")
		}
	case "RSET":
		r = R(250, "2.0.0", "Ok")
	case "NOOP":
		r = R(250, "2.0.0", "Ok")
	case "QUIT":
		r = R(221, "2.0.0", "Bye")
	case "DATA":
		r = R(554, "5.5.1", "Error: no valid recipients; testsmtp never takes DATA")
	default:
		r = R(502, "5.5.2", "Error: command not recognized")
	}
	s.track(c, cmd, r)
	return r
}

// track keeps the transaction state of c in step with an answer.
func (s *Server) track(c *Conn, cmd Command, r Reply) {
	ok := r.Code >= 200 && r.Code < 300
	switch cmd.Verb {
	case "EHLO", "HELO":
		if ok {
			c.Helo, c.HaveMail, c.Rcpts = cmd.Arg, false, 0
		}
	case "MAIL":
		if ok {
			c.HaveMail, c.Rcpts = true, 0
		}
	case "RCPT":
		if ok {
			c.Rcpts++
		}
	case "RSET":
		c.HaveMail, c.Rcpts = false, 0
	}
}
