package verify

import (
	"context"
	"iter"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// sharedServer is one mail server address serving several domains, each
// under an MX name of its own, that answers each domain its own way. It
// records when each RCPT came.
type sharedServer struct {
	mu    sync.Mutex
	known map[string]bool
	times []time.Time
	seen  map[string]time.Time // first RCPT of an address (greylisting)
	first map[string]time.Time // first RCPT of an address
	count map[string]int       // per rule's own counting
	rules map[string]domainRule
	srv   *testsmtp.Server
}

// A domainRule answers one RCPT for an address of its domain; s.mu is held.
type domainRule func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply

func (s *sharedServer) honest(a string) testsmtp.Reply {
	if s.known[a] {
		return testsmtp.R(250, "2.1.5", "Ok")
	}
	return testsmtp.R(550, "5.1.1", "<"+a+">: Recipient address rejected: User unknown")
}

func newSharedServer(known map[string]bool, rules map[string]domainRule) *sharedServer {
	s := &sharedServer{known: known, seen: map[string]time.Time{}, first: map[string]time.Time{}, count: map[string]int{}, rules: rules}
	s.srv = &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": func(c *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
		a := rcptAddress(cmd.Arg)
		_, d, _ := strings.Cut(a, "@")
		s.mu.Lock()
		defer s.mu.Unlock()
		s.times = append(s.times, time.Now())
		if _, ok := s.first[a]; !ok {
			s.first[a] = time.Now()
		}
		if r, ok := s.rules[d]; ok {
			return r(s, c, a)
		}
		return s.honest(a)
	}}}
	return s
}

// reviewWorld puts every domain of rules (and names.com, strict) on one
// server address, each under its own MX name.
func reviewWorld(t *testing.T, known map[string]bool, rules map[string]domainRule) (*world, *sharedServer) {
	w := newWorld()
	t.Cleanup(w.router.close)
	s := newSharedServer(known, rules)
	w.add("names.com", s.srv)
	ip := w.res.IP["mx.names.com"]
	for d := range rules {
		w.res.MX[d] = []*net.MX{{Host: "mx." + d, Pref: 10}}
		w.res.IP["mx."+d] = []netip.Addr{ip[0]}
	}
	return w, s
}

// twoPhase yields first, waits until release is closed, then yields rest:
// the server's naming refusals are seen before the other domains come.
func twoPhase(first, rest []string, release <-chan struct{}) iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, a := range first {
			if !yield(a) {
				return
			}
		}
		<-release
		for _, a := range rest {
			if !yield(a) {
				return
			}
		}
	}
}

func (s *sharedServer) honestRule(_ *testsmtp.Conn, a string) testsmtp.Reply { return s.honest(a) }

// addrDialer counts, per server address, the connections the client has
// open (dial to Close). A dial takes a millisecond, as a SYN's flight
// does: a server that closed a connection as the client closed it has
// counted it out (without it, synctest lets a dial overtake the server
// goroutine's bookkeeping of a close it already saw).
type addrDialer struct {
	inner      *countingDialer
	mu         sync.Mutex
	open, most map[string]int
}

func (d *addrDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	time.Sleep(time.Millisecond)
	nc, err := d.inner.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.open[addr]++
	d.most[addr] = max(d.most[addr], d.open[addr])
	return &addrConn{Conn: nc, d: d, addr: addr}, nil
}

type addrConn struct {
	net.Conn
	d    *addrDialer
	addr string
	once sync.Once
}

func (c *addrConn) Close() error {
	c.once.Do(func() {
		c.d.mu.Lock()
		c.d.open[c.addr]--
		c.d.mu.Unlock()
	})
	return c.Conn.Close()
}
