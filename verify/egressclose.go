package verify

import (
	"io"
	"net"
	"time"
)

// A heldConn is the connection of a session that holds an egress lease
// (one of its sessions at once, counted per (egress, provider) in the
// budget store). Its Close returns only once the server has closed its
// end too, or closeWait passed: the lease is released after Close (see
// Verifier.bind), and a connection the server has not yet let go of is
// still one of the egress's sessions at once to it. Without this, a
// session that reads the reply to QUIT, closes and releases its lease
// lets the next session (another worker's, or this one reconnecting)
// connect while the server has not yet closed the first, and the server
// sees one session more from the egress than its profile allows.
type heldConn struct{ net.Conn }

// closeWait bounds how long Close waits for the server to close its end.
// After QUIT's reply the server closes at once (RFC 5321 section
// 4.1.1.10); without QUIT our end of the stream (CloseWrite) tells it to.
// A SOCKS5 egress's connection can end its stream too (the half-close
// passes through the proxy; see egress.Egress.DialContext).
const closeWait = time.Second

func (c heldConn) Close() error {
	if hc, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		_ = hc.CloseWrite()
	}
	_ = c.Conn.SetReadDeadline(time.Now().Add(closeWait))
	_, _ = io.Copy(io.Discard, io.LimitReader(c.Conn, 64<<10)) // until the server's EOF
	return c.Conn.Close()
}
