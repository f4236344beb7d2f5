package verify

import (
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/mailverify/mailverify/egress"
)

// rawSocks is a minimal SOCKS5 proxy (no auth, CONNECT to IPv4) whose
// relay misbehaves as mode says: "nohalf" never passes the client's
// half-close on (the server's side stays open until the server closes);
// "early" closes the client's connection right after the CONNECT reply.
func rawSocks(t *testing.T, mode string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback listener: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go rawSocksConn(c, mode)
		}
	}()
	return l.Addr().String()
}

func rawSocksConn(c net.Conn, mode string) {
	defer c.Close()
	var b [262]byte
	if _, err := io.ReadFull(c, b[:2]); err != nil {
		return
	}
	if _, err := io.ReadFull(c, b[:b[1]]); err != nil {
		return
	}
	_, _ = c.Write([]byte{5, 0})
	if _, err := io.ReadFull(c, b[:4]); err != nil || b[3] != 1 {
		return
	}
	if _, err := io.ReadFull(c, b[:6]); err != nil {
		return
	}
	ap := netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[:4])), binary.BigEndian.Uint16(b[4:6]))
	s, err := net.Dial("tcp", ap.String())
	if err != nil {
		_, _ = c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
		return
	}
	defer s.Close()
	_, _ = c.Write([]byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0})
	if mode == "early" {
		return
	}
	go func() { _, _ = io.Copy(s, c) }() // "nohalf": the client's end is not passed on
	_, _ = io.Copy(c, s)
}

// TestReviewHeldConnSOCKSMisbehaving (rev-egress): heldConn's careful
// close through a proxy that does not pass the half-close on returns
// after closeWait (not later, no hang); through a proxy that closed
// early it returns at once; CloseWrite and Close after Close are errors,
// never panics.
func TestReviewHeldConnSOCKSMisbehaving(t *testing.T) {
	for _, mode := range []string{"nohalf", "early"} {
		t.Run(mode, func(t *testing.T) {
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
				_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
				_, _ = io.Copy(io.Discard, c) // until our end, which "nohalf" never passes on
			}()
			e := &egress.Egress{Proxy: &url.URL{Scheme: "socks5", Host: rawSocks(t, mode)}}
			c, err := e.DialContext(t.Context(), "tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			_, _ = c.Write([]byte("QUIT\r\n"))
			hc := heldConn{c}
			start := time.Now()
			_ = hc.Close()
			took := time.Since(start)
			limit := closeWait + 300*time.Millisecond
			if mode == "early" {
				limit = 300 * time.Millisecond
			}
			if took > limit {
				t.Errorf("heldConn.Close took %v; want at most %v", took, limit)
			}
			if cw, ok := c.(interface{ CloseWrite() error }); ok {
				if err := cw.CloseWrite(); err == nil {
					t.Error("CloseWrite after Close: nil error")
				}
			}
			if err := c.Close(); err == nil {
				t.Error("Close after Close: nil error")
			}
		})
	}
}
