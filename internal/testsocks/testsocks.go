// Package testsocks is a SOCKS5 proxy (RFC 1928) for tests, on a loopback
// listener: no authentication, CONNECT only. It relays each connection
// both ways and passes a half-close on, as real proxies do (Dante, ssh
// -D): when one side ends its stream, the other side's write half is
// closed, so a server sees the client's end of the stream.
package testsocks

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
)

// A Proxy is a running SOCKS5 proxy. Close stops it and its relays.
type Proxy struct {
	l     net.Listener
	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// Start listens on addr ("127.0.0.1:0") and serves until Close.
func Start(addr string) (*Proxy, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	p := &Proxy{l: l, conns: map[net.Conn]bool{}}
	p.wg.Go(p.serve)
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.l.Addr().String() }

// Close stops the proxy and closes every connection it relays.
func (p *Proxy) Close() {
	p.l.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil // and no more
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		return false
	}
	p.conns[c] = true
	return true
}

func (p *Proxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			c.Close()
			return
		}
		p.wg.Go(func() { p.handle(c) })
	}
}

// handle reads the greeting and the CONNECT request (RFC 1928 sections 3
// and 4), connects, and relays.
func (p *Proxy) handle(c net.Conn) {
	defer c.Close()
	target, err := handshake(c)
	if err != nil {
		return
	}
	s, err := net.Dial("tcp", target)
	if err != nil {
		_, _ = c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0}) // connection refused
		return
	}
	if !p.track(s) {
		s.Close()
		return
	}
	defer s.Close()
	la := s.LocalAddr().(*net.TCPAddr)
	reply := append([]byte{5, 0, 0, 1}, la.IP.To4()...)
	reply = binary.BigEndian.AppendUint16(reply, uint16(la.Port))
	if _, err := c.Write(reply); err != nil {
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() { pipe(s, c) })
	pipe(c, s)
	wg.Wait()
}

// pipe copies from src to dst until src's end, then ends dst's stream.
func pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

var errRequest = errors.New("testsocks: bad request")

func handshake(c net.Conn) (string, error) {
	var b [4]byte
	if _, err := io.ReadFull(c, b[:2]); err != nil || b[0] != 5 {
		return "", errRequest
	}
	methods := make([]byte, b[1])
	if _, err := io.ReadFull(c, methods); err != nil {
		return "", err
	}
	if _, err := c.Write([]byte{5, 0}); err != nil { // no authentication
		return "", err
	}
	if _, err := io.ReadFull(c, b[:4]); err != nil || b[0] != 5 || b[1] != 1 {
		return "", errRequest
	}
	var host string
	switch b[3] {
	case 1, 4:
		ip := make(net.IP, map[byte]int{1: 4, 4: 16}[b[3]])
		if _, err := io.ReadFull(c, ip); err != nil {
			return "", err
		}
		host = ip.String()
	case 3:
		if _, err := io.ReadFull(c, b[:1]); err != nil {
			return "", err
		}
		name := make([]byte, b[0])
		if _, err := io.ReadFull(c, name); err != nil {
			return "", err
		}
		host = string(name)
	default:
		return "", errRequest
	}
	if _, err := io.ReadFull(c, b[:2]); err != nil {
		return "", err
	}
	return net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(b[:2])))), nil
}
