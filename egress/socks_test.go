package egress

import (
	"io"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testsocks"
)

// TestProxyConnHalfCloses: a connection through a SOCKS5 egress can end
// its stream (CloseWrite) and still read the server's last words, as a
// direct TCP connection can: the half-close reaches the server through
// the proxy. The server here answers only once it has read the client's
// end of the stream. Without CloseWrite a session's careful close (verify's
// heldConn: end our stream, wait for the server to close) cannot tell a
// server through a proxy that it is done.
func TestProxyConnHalfCloses(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback listener: %v", err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c) // until the client's end
		_, _ = c.Write(append([]byte("got "), b...))
	}()
	p, err := testsocks.Start("127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback listener: %v", err)
	}
	defer p.Close()
	e := &Egress{Proxy: &url.URL{Scheme: "socks5", Host: p.Addr()}}
	c, err := e.DialContext(t.Context(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("QUIT")); err != nil {
		t.Fatal(err)
	}
	hc, ok := c.(interface{ CloseWrite() error })
	if !ok {
		t.Fatalf("a connection through the SOCKS5 egress (%T) cannot half-close", c)
	}
	if err := hc.CloseWrite(); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "got QUIT" {
		t.Errorf("after CloseWrite read %q, %v; want the server's answer to our end, then its end", b, err)
	}
}
