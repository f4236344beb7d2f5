// Package fakeworld is an Internet for the service's tests: domains whose
// MX hosts are scripted SMTP servers (internal/testsmtp) reached through a
// dialer, and a map-backed resolver, with no network at all.
package fakeworld

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/mx/mxtest"
	"github.com/mailverify/mailverify/verify"
)

// A World is domains, their servers, and the verifier settings to reach
// them.
type World struct {
	Resolver *mxtest.Resolver
	Servers  map[string]*testsmtp.Server // by "ip:port"
	n        int
}

// New returns an empty world.
func New() *World {
	return &World{
		Resolver: &mxtest.Resolver{MX: map[string][]*net.MX{}, IP: map[string][]netip.Addr{}, Errs: map[string]error{}},
		Servers:  map[string]*testsmtp.Server{},
	}
}

// Server adds a mail server and returns its host name; domains point at
// it with Route.
func (w *World) Server(srv *testsmtp.Server) string {
	w.n++
	ip := netip.AddrFrom4([4]byte{127, 1, byte(w.n >> 8), byte(w.n)})
	host := fmt.Sprintf("mx%d.fake.test", w.n)
	w.Resolver.IP[host] = []netip.Addr{ip}
	w.Servers[netip.AddrPortFrom(ip, 25).String()] = srv
	return host
}

// Route makes host the MX of domain.
func (w *World) Route(domain, host string) {
	w.Resolver.MX[domain] = []*net.MX{{Host: host, Pref: 10}}
}

// DialContext connects to the server at addr; other addresses are refused.
func (w *World) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if s, ok := w.Servers[addr]; ok {
		return s.DialContext(ctx, network, addr)
	}
	return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
}

// Verifier returns a Verifier of this world.
func (w *World) Verifier() *verify.Verifier {
	return &verify.Verifier{Resolver: w.Resolver, Dialer: w, AllowPrivate: true, HELO: "verifier.example.net",
		ResolverCanary: "-"}
}

// Close stops every server.
func (w *World) Close() {
	for _, s := range w.Servers {
		s.Close()
	}
}
