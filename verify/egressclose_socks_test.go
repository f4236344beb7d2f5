package verify

import (
	"io"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/internal/testsocks"
)

// TestHeldConnThroughSOCKS5: through a SOCKS5 egress, a heldConn's Close
// ends our stream (the half-close passes through the proxy), so a server
// that closes once it has read our end does so at once, and Close returns
// after that, well before closeWait. Without the half-close the server
// waits for our end while Close waits closeWait for the server's: the
// lease was released before the server let the session go.
func TestHeldConnThroughSOCKS5(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback listener: %v", err)
	}
	defer l.Close()
	closed := make(chan time.Time, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, c) // until the client's end
		time.Sleep(50 * time.Millisecond)
		closed <- time.Now()
		c.Close()
	}()
	p, err := testsocks.Start("127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback listener: %v", err)
	}
	defer p.Close()
	e := &egress.Egress{Proxy: &url.URL{Scheme: "socks5", Host: p.Addr()}}
	pc, err := e.DialContext(t.Context(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := heldConn{pc}
	if _, err := c.Write([]byte("QUIT\r\n")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c.Close()
	done, took := time.Now(), time.Since(start)
	select {
	case at := <-closed:
		if done.Before(at) {
			t.Errorf("Close returned %v before the server closed its end", at.Sub(done))
		}
	default:
		t.Errorf("Close returned (after %v) before the server closed its end", took)
	}
	if took > closeWait/2 {
		t.Errorf("Close took %v; want the server's close (about 50 ms), not closeWait (%v)", took, closeWait)
	}
}

// TestEgressThroughSOCKS5: a Verifier whose one egress is a SOCKS5 proxy
// (its sessions' connections are heldConns over the proxy's) gives every
// address of the world its right verdict through it. (The servers here
// close after QUIT, which reaches the client through the proxy with or
// without a half-close; TestHeldConnThroughSOCKS5 is the half-close's.)
func TestEgressThroughSOCKS5(t *testing.T) {
	p, err := testsocks.Start("127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback listener: %v", err)
	}
	defer p.Close()
	w := newEgressWorld(t, "", sourceRule{})
	v, _ := w.verifier(t, 0, generous)
	v.Egresses = []egress.Egress{{Name: "proxy", Proxy: &url.URL{Scheme: "socks5", Host: p.Addr()}}}
	res := w.check(t, v)
	if n := w.right(res); n != len(w.addrs) {
		t.Errorf("%d of %d right through the proxy:%s", n, len(w.addrs), brief(res))
	}
}
