package egress

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
)

// A ConnResult is how a TCP connection to a mail server ended.
type ConnResult int

const (
	Connected  ConnResult = iota // the server answered (any banner)
	TimedOut                     // no answer before the connect timeout
	Refused                      // connection refused or reset at once
	OtherError                   // anything else (no route, DNS, ...): no evidence either way
)

// A ConnOutcome is one connection attempt, as the engine saw it.
type ConnOutcome struct {
	Egress   string     // the egress's ID
	Server   netip.Addr // the address dialed
	Provider string     // the server's provider, "" if unknown
	// DNSAnswered: the server's address came from a DNS answer just now,
	// so the network works and port 25 is what is in question.
	DNSAnswered bool
	Result      ConnResult
}

// ErrPort25Blocked matches every *Port25Error.
var ErrPort25Blocked = errors.New("egress: outbound port 25 looks blocked")

// A Port25Error says that outbound port 25 looks blocked from an egress:
// connections to Threshold unrelated mail servers all timed out or were
// refused while DNS answered, and none got through.
type Port25Error struct {
	Egress  string
	Servers []netip.Addr
}

func (e *Port25Error) Error() string {
	return fmt.Sprintf("egress %s: outbound port 25 looks blocked: %d unrelated mail servers timed out or refused the connection while DNS answered; "+
		"ask your hosting or network provider to open outbound port 25, or probe through another egress (--egress ADDRESS or --socks5)", e.Egress, len(e.Servers))
}

// Is makes errors.Is(err, ErrPort25Blocked) hold.
func (e *Port25Error) Is(target error) bool { return target == ErrPort25Blocked }

// Port25 decides, per egress, whether outbound port 25 looks blocked. It
// needs failures at several unrelated servers (a different provider, or
// for unknown providers a different /24 or /48), so one dead server or one
// provider's firewall does not trip it; a single connection that gets
// through settles that port 25 is open. The decision is made once per
// egress; Hook, when set, receives it then. The zero value works (with a
// Threshold of 3) and is safe for concurrent use.
type Port25 struct {
	Threshold int
	Hook      func(*Port25Error)

	mu sync.Mutex
	m  map[string]*port25State
}

type port25State struct {
	open    bool
	groups  map[string]bool
	servers []netip.Addr
	decided *Port25Error
}

// Observe records one outcome. It returns the *Port25Error the first time
// the egress's port 25 is judged blocked, and nil otherwise (use Blocked
// for the standing decision).
func (d *Port25) Observe(o ConnOutcome) *Port25Error {
	d.mu.Lock()
	if d.m == nil {
		d.m = map[string]*port25State{}
	}
	s := d.m[o.Egress]
	if s == nil {
		s = &port25State{groups: map[string]bool{}}
		d.m[o.Egress] = s
	}
	if s.decided != nil || s.open {
		d.mu.Unlock()
		return nil
	}
	switch {
	case o.Result == Connected:
		s.open = true
	case (o.Result == TimedOut || o.Result == Refused) && o.DNSAnswered && o.Server.IsValid():
		g := relatedGroup(o)
		if !s.groups[g] {
			s.groups[g] = true
			s.servers = append(s.servers, o.Server)
		}
		if len(s.groups) >= orDefault(d.Threshold, 3) {
			s.decided = &Port25Error{Egress: o.Egress, Servers: append([]netip.Addr(nil), s.servers...)}
		}
	}
	dec := s.decided
	d.mu.Unlock()
	if dec != nil && d.Hook != nil {
		d.Hook(dec)
	}
	return dec
}

// Blocked returns the standing decision for an egress: a *Port25Error, or
// nil while port 25 is not judged blocked.
func (d *Port25) Blocked(egress string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s := d.m[egress]; s != nil && s.decided != nil {
		return s.decided
	}
	return nil
}

// relatedGroup names what servers count as one: the provider when known,
// else the /24 (IPv4) or /48 (IPv6) around the address.
func relatedGroup(o ConnOutcome) string {
	if o.Provider != "" {
		return "provider:" + o.Provider
	}
	bits := 24
	if o.Server.Is6() && !o.Server.Is4In6() {
		bits = 48
	}
	p, _ := o.Server.Unmap().Prefix(bits)
	return p.String()
}
