package egress

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in, id, source, proxy string
		err                   error
	}{
		{in: "192.0.2.10", id: "192.0.2.10", source: "192.0.2.10"},
		{in: " 192.0.2.10 ", id: "192.0.2.10", source: "192.0.2.10"},
		{in: "[2001:db8::1]", id: "2001:db8::1", source: "2001:db8::1"},
		{in: "2001:db8::1", id: "2001:db8::1", source: "2001:db8::1"},
		{in: "::ffff:192.0.2.7", id: "192.0.2.7", source: "192.0.2.7"},
		{in: "socks5://user:pass@proxy.example:1080", id: "socks5://proxy.example:1080", proxy: "proxy.example:1080"},
		{in: "socks5://proxy.example", id: "socks5://proxy.example:1080", proxy: "proxy.example:1080"},
		{in: "socks5h://[2001:db8::2]:9050", id: "socks5h://[2001:db8::2]:9050", proxy: "[2001:db8::2]:9050"},
		{in: "", err: ErrAddress},
		{in: "192.0.2.10:25", err: ErrAddress},
		{in: "mail.example.net", err: ErrAddress},
		{in: "0.0.0.0", err: ErrAddress},
		{in: "fe80::1%eth0", err: ErrAddress},
		{in: "[2001:db8::1", err: ErrAddress},
		{in: "http://proxy.example:8080", err: ErrProxy},
		{in: "socks5://", err: ErrProxy},
		{in: "socks5://proxy.example:99999", err: ErrProxy},
		{in: "socks5://proxy.example:1080/path", err: ErrProxy},
		{in: "socks5://proxy.example:1080?x=1", err: ErrProxy},
	} {
		e, err := Parse(tc.in)
		if tc.err != nil {
			var pe *ParseError
			if !errors.Is(err, tc.err) || !errors.As(err, &pe) {
				t.Errorf("Parse(%q) = %v, want a *ParseError wrapping %v", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if e.ID() != tc.id {
			t.Errorf("Parse(%q).ID() = %q, want %q", tc.in, e.ID(), tc.id)
		}
		if got := e.Source.String(); tc.source != "" && got != tc.source {
			t.Errorf("Parse(%q).Source = %s, want %s", tc.in, got, tc.source)
		}
		if tc.proxy != "" && (e.Proxy == nil || e.Proxy.Host != tc.proxy) {
			t.Errorf("Parse(%q).Proxy = %v, want host %s", tc.in, e.Proxy, tc.proxy)
		}
	}
}

func TestNoPasswordInText(t *testing.T) {
	e, err := Parse("socks5://user:s3cret@proxy.example:1080")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{e.ID(), e.String()} {
		if strings.Contains(s, "s3cret") {
			t.Errorf("%q shows the password", s)
		}
	}
	_, err = Parse("socks5://user:s3cret@proxy.example:1080/x")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %v shows the password (or is nil)", err)
	}
}

func TestZeroValueIsDirect(t *testing.T) {
	var e Egress
	if e.ID() != "direct" || e.String() != "direct" {
		t.Errorf("zero Egress: ID %q, String %q", e.ID(), e.String())
	}
	l := listen(t, "127.0.0.1:0")
	c, err := e.DialContext(context.Background(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestWithDefaults(t *testing.T) {
	e := Egress{HELO: "own.example.net"}.WithDefaults("flag.example.net", "v@example.net")
	if e.HELO != "own.example.net" || e.MailFrom != "v@example.net" {
		t.Errorf("WithDefaults = %+v", e)
	}
}

// listen opens a TCP listener that reports each accepted peer's address.
func listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func acceptPeer(t *testing.T, l net.Listener) <-chan netip.Addr {
	ch := make(chan netip.Addr, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			close(ch)
			return
		}
		defer c.Close()
		ch <- c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
	}()
	return ch
}

// TestDialFromSourceAddress binds loopback source addresses 127.0.0.x and
// checks the address the server sees.
func TestDialFromSourceAddress(t *testing.T) {
	l := listen(t, "127.0.0.1:0")
	for _, src := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.77"} {
		e, err := Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		peer := acceptPeer(t, l)
		c, err := e.DialContext(context.Background(), "tcp", l.Addr().String())
		if err != nil {
			t.Fatalf("dial from %s: %v", src, err)
		}
		select {
		case got := <-peer:
			if got.String() != src {
				t.Errorf("server saw %s, want %s", got, src)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no connection")
		}
		c.Close()
	}
}

func TestDialFamilyMismatch(t *testing.T) {
	e := Egress{Source: netip.MustParseAddr("127.0.0.2")}
	_, err := e.DialContext(context.Background(), "tcp", "[::1]:25")
	if !errors.Is(err, ErrFamily) {
		t.Errorf("IPv6 server from an IPv4 source: %v, want ErrFamily", err)
	}
}

// TestDialThroughSOCKS5 goes through an in-test SOCKS5 server with
// username/password authentication, reached from a chosen loopback
// source address.
func TestDialThroughSOCKS5(t *testing.T) {
	target := listen(t, "127.0.0.1:0")
	proxy := startSOCKS5(t, "user", "pa:ss")
	e, err := Parse("socks5://user:pa%3Ass@" + proxy.addr)
	if err != nil {
		t.Fatal(err)
	}
	e.Source = netip.MustParseAddr("127.0.0.5")
	peer := acceptPeer(t, target)
	c, err := e.DialContext(context.Background(), "tcp", target.Addr().String())
	if err != nil {
		t.Fatalf("dial through the proxy: %v", err)
	}
	defer c.Close()
	if got := <-peer; got.String() != "127.0.0.1" {
		t.Errorf("target saw %s, want the proxy's 127.0.0.1", got)
	}
	proxy.mu.Lock()
	defer proxy.mu.Unlock()
	if proxy.client != netip.MustParseAddr("127.0.0.5") || proxy.connectTo != target.Addr().String() {
		t.Errorf("proxy saw client %s asking for %q; want 127.0.0.5 asking for %s", proxy.client, proxy.connectTo, target.Addr())
	}

	bad, _ := Parse("socks5://user:wrong@" + proxy.addr)
	if _, err := bad.DialContext(context.Background(), "tcp", target.Addr().String()); err == nil {
		t.Error("a wrong proxy password connected")
	}
}

type socksServer struct {
	addr      string
	mu        sync.Mutex
	client    netip.Addr
	connectTo string
}

// startSOCKS5 runs a minimal SOCKS5 server (RFC 1928 CONNECT with IPv4
// targets, RFC 1929 username/password) on 127.0.0.1.
func startSOCKS5(t *testing.T, user, pass string) *socksServer {
	l := listen(t, "127.0.0.1:0")
	s := &socksServer{addr: l.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { s.serve(c, user, pass) })
		}
	})
	return s
}

func (s *socksServer) serve(c net.Conn, user, pass string) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 512)
	read := func(n int) []byte {
		if _, err := readFull(c, buf[:n]); err != nil {
			return nil
		}
		return buf[:n]
	}
	if h := read(2); h == nil || h[0] != 5 || read(int(buf[1])) == nil {
		return
	}
	c.Write([]byte{5, 2}) // username/password
	if h := read(2); h == nil || h[0] != 1 {
		return
	}
	u := string(read(int(buf[1])))
	n := read(1)
	if n == nil {
		return
	}
	p := string(read(int(n[0])))
	if u != user || p != pass {
		c.Write([]byte{1, 1})
		return
	}
	c.Write([]byte{1, 0})
	if h := read(4); h == nil || h[1] != 1 || h[3] != 1 {
		return
	}
	ip := netip.AddrFrom4([4]byte(read(4)))
	pb := read(2)
	target := netip.AddrPortFrom(ip, uint16(pb[0])<<8|uint16(pb[1])).String()
	s.mu.Lock()
	s.client = c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
	s.connectTo = target
	s.mu.Unlock()
	up, err := net.Dial("tcp", target)
	if err != nil {
		c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
		return
	}
	defer up.Close()
	c.Write([]byte{5, 0, 0, 1, 127, 0, 0, 1, 0, 0})
	c.Read(buf[:1]) // hold the tunnel until the client closes
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
