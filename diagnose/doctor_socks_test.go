package diagnose

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

// socksProxy is a minimal SOCKS5 server (RFC 1928: no authentication,
// CONNECT to IPv4 addresses) on loopback that records what it was asked.
type socksProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	asked []string
	wg    sync.WaitGroup
}

func startSOCKS(t *testing.T) *socksProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &socksProxy{ln: ln}
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.serve(c) })
		}
	})
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *socksProxy) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	hdr := make([]byte, 2)
	if _, err := io.ReadFull(c, hdr); err != nil || hdr[0] != 5 {
		return
	}
	if _, err := io.ReadFull(c, make([]byte, hdr[1])); err != nil {
		return
	}
	c.Write([]byte{5, 0})
	req := make([]byte, 10) // VER CMD RSV ATYP=1 ADDR(4) PORT(2)
	if _, err := io.ReadFull(c, req); err != nil || req[1] != 1 || req[3] != 1 {
		return
	}
	target := net.JoinHostPort(net.IP(req[4:8]).String(), strconv.Itoa(int(binary.BigEndian.Uint16(req[8:]))))
	p.mu.Lock()
	p.asked = append(p.asked, target)
	p.mu.Unlock()
	up, err := net.Dial("tcp", target)
	if err != nil {
		c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
		return
	}
	defer up.Close()
	c.Write([]byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0})
	done := make(chan struct{})
	go func() { io.Copy(up, c); up.Close(); close(done) }()
	io.Copy(c, up)
	c.Close()
	<-done
}

// TestDoctorThroughSOCKS5: the --socks5 egress reaches the mail server
// through the proxy, which the server sees as the client.
func TestDoctorThroughSOCKS5(t *testing.T) {
	cfg := doctorFixture(t)
	srv := stating(t, "mx.p1.test", "192.0.2.7")
	addr, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	proxy := startSOCKS(t)
	cfg.Providers, cfg.Servers, cfg.DNSBL, cfg.Timeout = []string{}, []string{addr}, []string{}, 5*time.Second
	cfg.Egresses = []Egress{{SOCKS5: "socks5://" + proxy.ln.Addr().String(), HELO: "out.good.test", MailFrom: "probe@good.test"}}
	rep, err := Doctor(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := doctorResults(rep, "socks5 "+proxy.ln.Addr().String())
	if got["port25.outbound"] != Pass || got["identity.spf"] != Pass || rep.Egresses[0].Address != "192.0.2.7" {
		t.Errorf("through the proxy: %v, %+v", got, rep.Egresses)
	}
	proxy.mu.Lock()
	defer proxy.mu.Unlock()
	if len(proxy.asked) != 1 || proxy.asked[0] != addr {
		t.Errorf("the proxy was asked for %q; want [%s]", proxy.asked, addr)
	}
}
