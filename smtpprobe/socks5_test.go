package smtpprobe

import (
	"encoding/binary"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
	"golang.org/x/net/proxy"
)

// socks5 is a minimal SOCKS5 server (RFC 1928: no authentication, CONNECT
// only) on 127.0.0.1 that only connects to loopback addresses.
func socks5(t *testing.T) (addr string, connects func() int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	n := 0
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				buf := make([]byte, 262)
				// Greeting: VER NMETHODS METHODS; choose "no authentication".
				if _, err := io.ReadFull(c, buf[:2]); err != nil || buf[0] != 5 {
					return
				}
				if _, err := io.ReadFull(c, buf[:buf[1]]); err != nil {
					return
				}
				c.Write([]byte{5, 0})
				// Request: VER CMD RSV ATYP DST.ADDR DST.PORT
				if _, err := io.ReadFull(c, buf[:4]); err != nil || buf[1] != 1 {
					return
				}
				var host string
				switch buf[3] {
				case 1:
					io.ReadFull(c, buf[:4])
					host = net.IP(buf[:4]).String()
				case 3:
					io.ReadFull(c, buf[:1])
					io.ReadFull(c, buf[:buf[0]])
					host = string(buf[:buf[0]])
				default:
					return
				}
				io.ReadFull(c, buf[:2])
				port := binary.BigEndian.Uint16(buf[:2])
				ip := net.ParseIP(host)
				if ip == nil || !ip.IsLoopback() {
					c.Write([]byte{5, 2, 0, 1, 0, 0, 0, 0, 0, 0}) // not allowed by ruleset
					return
				}
				up, err := net.Dial("tcp", net.JoinHostPort(host, strconv.Itoa(int(port))))
				if err != nil {
					c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
					return
				}
				defer up.Close()
				mu.Lock()
				n++
				mu.Unlock()
				c.Write([]byte{5, 0, 0, 1, 127, 0, 0, 1, 0, 0})
				var relay sync.WaitGroup
				relay.Go(func() { io.Copy(up, c); up.(*net.TCPConn).CloseWrite() })
				io.Copy(c, up)
				c.Close()
				relay.Wait()
			})
		}
	})
	t.Cleanup(func() { l.Close(); wg.Wait() })
	return l.Addr().String(), func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// TestProbeThroughSOCKS5 proves the Dialer hook end to end: x/net/proxy's
// SOCKS5 dialer, a SOCKS5 server, and testsmtp on loopback.
func TestProbeThroughSOCKS5(t *testing.T) {
	before := runtime.NumGoroutine()
	srv := testsmtp.Mailboxes("alice@example.com")
	smtpAddr, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	socksAddr, connects := socks5(t)
	d, err := proxy.SOCKS5("tcp", socksAddr, nil, proxy.Direct)
	if err != nil {
		t.Fatal(err)
	}
	cd, ok := d.(proxy.ContextDialer)
	if !ok {
		t.Fatal("the SOCKS5 dialer is not a ContextDialer")
	}
	p := &Prober{Dialer: cd, HELO: "verifier.example.net"}
	s, err := p.Open(t.Context(), "mx.example.com", smtpAddr)
	if err != nil {
		t.Fatal(err)
	}
	res := s.Probe(t.Context(), "alice@example.com", "bob@example.com")
	s.Close()
	if res[0].Outcome != Accepted || res[1].Outcome != MailboxNotFound {
		t.Errorf("through SOCKS5: %v", outcomes(res))
	}
	if connects() != 1 || srv.Connections() != 1 {
		t.Errorf("%d SOCKS5 connects, %d SMTP connections; want 1 each", connects(), srv.Connections())
	}
	srv.Close()
	if srv.Open() != 0 {
		t.Errorf("%d server connections left open", srv.Open())
	}
	// No goroutine of ours outlives the test (the SOCKS5 server is
	// stopped by Cleanup, after this check, so allow for it).
	deadline := time.Now().Add(2 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		leaked := strings.Contains(stacks, "smtpprobe.(*Session)") || strings.Contains(stacks, "testsmtp.(*Server)")
		if !leaked {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines left behind (%d before, %d now):\n%s", before, runtime.NumGoroutine(), stacks)
		}
		runtime.Gosched()
	}
}
