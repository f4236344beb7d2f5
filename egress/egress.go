package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/proxy"
)

// An Egress is one way out to the mail servers, with its own identity: a
// local source address or a SOCKS5 proxy, and the HELO name and MAIL FROM
// address it introduces itself with. The zero value is the direct egress:
// the system picks the source address, as a plain net.Dialer does.
type Egress struct {
	// Name identifies the egress in events, snapshots and stores; empty
	// means ID's default (the source address, the proxy's host:port, or
	// "direct").
	Name string
	// Source is the local address connections leave from (net.Dialer's
	// LocalAddr); the zero Addr lets the system choose. With a Proxy it is
	// the address the proxy is reached from.
	Source netip.Addr
	// Proxy, when set, is a SOCKS5 proxy URL (socks5:// or socks5h://,
	// with optional user:password) that connections go through.
	Proxy *url.URL
	// HELO and MailFrom identify the egress to the servers; empty means the
	// caller's defaults (see WithDefaults). Receivers compare the HELO
	// name with the PTR record of the address they see: for a proxy, that
	// is the proxy's public address, not this machine's.
	HELO, MailFrom string
	// Providers pins the egress: when non-empty it serves only these
	// providers (the names mx.ProviderOf yields), and a provider named by
	// any egress is served only by the egresses that name it. "*" also
	// serves every provider no egress pins. Empty serves every unpinned
	// provider.
	Providers []string
}

// Errors of parsing and dialing; a *ParseError wraps one of the first four.
var (
	ErrAddress   = errors.New("egress: not a usable source address")
	ErrProxy     = errors.New("egress: not a usable SOCKS5 proxy URL")
	ErrField     = errors.New("egress: bad field")
	ErrDuplicate = errors.New("egress: duplicate egress name")
	// ErrFamily is returned by DialContext when the server's address
	// family (IPv4/IPv6) differs from the egress's source address.
	ErrFamily = errors.New("egress: source and server address families differ")
)

// A ParseError says what in an egress specification could not be used,
// and where: Line is the line of an egress file (0 for a flag value).
type ParseError struct {
	Line  int
	Input string // the offending text, with any proxy password removed
	Err   error
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("egress file line %d: %q: %v", e.Line, e.Input, e.Err)
	}
	return fmt.Sprintf("egress %q: %v", e.Input, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Parse reads the short form of an egress, as the --egress flag takes it:
// a bare local address ("192.0.2.10", "2001:db8::1" or "[2001:db8::1]")
// or a SOCKS5 URL ("socks5://user:pass@proxy.example:1080"; the port
// defaults to 1080). HELO and MailFrom are left for the caller.
func Parse(s string) (Egress, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "://") {
		u, err := parseProxy(s)
		if err != nil {
			return Egress{}, &ParseError{Input: redact(s), Err: err}
		}
		return Egress{Proxy: u}, nil
	}
	a, err := parseSource(s)
	if err != nil {
		return Egress{}, &ParseError{Input: s, Err: err}
	}
	return Egress{Source: a}, nil
}

func parseSource(s string) (netip.Addr, error) {
	t := s
	if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
		t = t[1 : len(t)-1]
	}
	a, err := netip.ParseAddr(t)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%w: %s is not an IP address (without zone or port)", ErrAddress, s)
	}
	a = a.Unmap()
	if a.IsUnspecified() || a.IsMulticast() {
		return netip.Addr{}, fmt.Errorf("%w: %s cannot be a source", ErrAddress, s)
	}
	return a, nil
}

func parseProxy(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProxy, errors.Unwrap(err))
	}
	if u.Scheme != "socks5" && u.Scheme != "socks5h" {
		return nil, fmt.Errorf("%w: scheme %q (want socks5)", ErrProxy, u.Scheme)
	}
	if u.Hostname() == "" || u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: want socks5://[user:password@]host[:port]", ErrProxy)
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), "1080")
	} else if n, err := strconv.Atoi(u.Port()); err != nil || n < 1 || n > 65535 {
		return nil, fmt.Errorf("%w: port %q", ErrProxy, u.Port())
	}
	u.Path = ""
	return u, nil
}

// redact removes a password from a proxy URL given as text.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		if i := strings.LastIndex(s, "@"); i >= 0 {
			return "***" + s[i:]
		}
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "***")
	}
	return u.String()
}

// ID is the egress's name: Name, else the source address, else the
// proxy's host:port, else "direct". It never contains a password.
func (e *Egress) ID() string {
	switch {
	case e.Name != "":
		return e.Name
	case e.Proxy != nil:
		return e.Proxy.Scheme + "://" + e.Proxy.Host
	case e.Source.IsValid():
		return e.Source.String()
	}
	return "direct"
}

// String describes the egress for logs: its ID and what it is, without a
// proxy password.
func (e *Egress) String() string {
	var how string
	switch {
	case e.Proxy != nil:
		how = redact(e.Proxy.String())
	case e.Source.IsValid():
		how = "from " + e.Source.String()
	default:
		how = "direct"
	}
	if id := e.ID(); id != how {
		return id + " (" + how + ")"
	}
	return how
}

// WithDefaults returns e with an empty HELO or MailFrom filled in: the
// --helo/--from values apply to every egress that names none.
func (e Egress) WithDefaults(helo, mailFrom string) Egress {
	if e.HELO == "" {
		e.HELO = helo
	}
	if e.MailFrom == "" {
		e.MailFrom = mailFrom
	}
	e.Providers = slices.Clone(e.Providers)
	return e
}

// Serves reports whether the egress may carry sessions to provider, given
// the set of providers some egress of the pool pins (see Providers).
func (e *Egress) Serves(provider string, pinned map[string]bool) bool {
	if len(e.Providers) == 0 {
		return !pinned[provider]
	}
	if slices.Contains(e.Providers, provider) {
		return true
	}
	return slices.Contains(e.Providers, "*") && !pinned[provider]
}

// DialContext connects to address ("ip:port") through the egress, so an
// *Egress is a smtpprobe.Dialer. A direct egress with a Source binds it;
// a proxy egress asks the proxy to connect (reaching the proxy from Source
// when set). A server address of the other family than Source fails with
// ErrFamily before any packet is sent.
func (e *Egress) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	d := &net.Dialer{}
	if e.Source.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: e.Source.AsSlice()}
	}
	if e.Proxy == nil {
		if e.Source.IsValid() && !e.reaches(address) {
			return nil, fmt.Errorf("%w: %s from %s", ErrFamily, address, e.Source)
		}
		return d.DialContext(ctx, network, address)
	}
	var auth *proxy.Auth
	if e.Proxy.User != nil {
		pw, _ := e.Proxy.User.Password()
		auth = &proxy.Auth{User: e.Proxy.User.Username(), Password: pw}
	}
	fwd := &proxyLeg{d: d}
	pd, err := proxy.SOCKS5("tcp", e.Proxy.Host, auth, fwd)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProxy, err)
	}
	cd, ok := pd.(proxy.ContextDialer)
	if !ok {
		return nil, fmt.Errorf("%w: the SOCKS5 dialer cannot take a context", ErrProxy)
	}
	c, err := cd.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	if fwd.tcp == nil { // not TCP to the proxy: nothing to half-close
		return c, nil
	}
	return &proxyConn{Conn: c, tcp: fwd.tcp}, nil
}

// A proxyLeg dials the proxy for the SOCKS5 client and keeps the TCP
// connection it made, which the client's connection hides.
type proxyLeg struct {
	d   *net.Dialer
	tcp *net.TCPConn
}

func (p *proxyLeg) Dial(network, address string) (net.Conn, error) {
	return p.DialContext(context.Background(), network, address)
}

func (p *proxyLeg) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := p.d.DialContext(ctx, network, address)
	if tc, ok := c.(*net.TCPConn); ok {
		p.tcp = tc
	}
	return c, err
}

// A proxyConn is a connection through a SOCKS5 proxy that can end its
// stream: CloseWrite half-closes the TCP connection to the proxy, which
// the proxy passes on to the server (the relay ends the server's stream
// in turn; Dante, OpenSSH's -D and the like do), as a direct connection's
// CloseWrite would. The SOCKS5 client's own connection type hides it.
type proxyConn struct {
	net.Conn
	tcp *net.TCPConn
}

// CloseWrite ends our stream, so that the server sees its end through the
// proxy and can close (see package verify's careful close).
func (c *proxyConn) CloseWrite() error { return c.tcp.CloseWrite() }

// reaches reports whether a direct dial from Source can reach address: the
// same family, or a host name the resolver will decide on.
func (e *Egress) reaches(address string) bool {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return true // let the dialer report it
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return true
	}
	return a.Unmap().Is4() == e.Source.Is4()
}
