package mx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mailverify/mailverify/internal/ctxerr"
	"github.com/miekg/dns"
)

// DNS is the default [Resolver]: a stub resolver that asks recursive
// servers, built on github.com/miekg/dns (which never appears in this
// package's API). It sends queries over UDP with EDNS0 and repeats a
// truncated one over TCP; it tries each server in turn, Attempts times
// over, and distinguishes NXDOMAIN, NODATA, SERVFAIL, REFUSED and timeouts.
//
// The zero value reads its servers from /etc/resolv.conf on first use. A
// DNS is safe for concurrent use and must not be changed after first use.
type DNS struct {
	// Servers are the recursive servers to ask, as "host:port" or "host"
	// (port 53). Nil means the nameservers of ResolvConf.
	Servers []string
	// ResolvConf is the resolv.conf to read when Servers is nil; empty
	// means /etc/resolv.conf.
	ResolvConf string
	// Timeout bounds one query to one server (both the UDP try and a TCP
	// retry after truncation). Zero means 2s: long enough for a recursive
	// server to resolve a cold name, short enough to move on from a dead
	// server. The context's deadline, when earlier, wins.
	Timeout time.Duration
	// Attempts is how many times each server is tried. Zero means 2. A
	// try that times out is repeated (on the next server when there are
	// several) while tries and the context's deadline allow; when the
	// deadline is near, a try gets half of what is left, so that one
	// retry still fits.
	Attempts int
	// MaxInFlight bounds the queries in flight to each server: more wait
	// for a place (within the context), so that a burst of lookups does
	// not overflow the server's query table, where the excess would be
	// dropped and time out. Zero means 32. See Stats for the counts.
	MaxInFlight int
	// Dialer dials the servers; nil means a net.Dialer. It is the hook for
	// tests and for networks that need a special route to their resolver.
	Dialer Dialer

	once     sync.Once
	servers  []string
	confErr  error
	inFlight map[string]chan struct{} // a place per query in flight, by server
	counts   dnsCounters
}

// A Dialer dials network connections; *net.Dialer satisfies it.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// ednsSize is the EDNS0 UDP payload size we advertise: the 2020 DNS flag
// day value, which avoids IP fragmentation.
const ednsSize = 1232

// maxCNAMEs bounds the CNAME chain followed inside one answer.
const maxCNAMEs = 8

var _ Resolver = (*DNS)(nil)

func (d *DNS) timeout() time.Duration {
	if d.Timeout > 0 {
		return d.Timeout
	}
	return 2 * time.Second
}

func (d *DNS) attempts() int {
	if d.Attempts > 0 {
		return d.Attempts
	}
	return 2
}

func (d *DNS) dialer() Dialer {
	if d.Dialer != nil {
		return d.Dialer
	}
	return &net.Dialer{}
}

func (d *DNS) serverList() ([]string, error) {
	d.once.Do(func() {
		list := d.Servers
		if list == nil {
			path := d.ResolvConf
			if path == "" {
				path = "/etc/resolv.conf"
			}
			conf, err := dns.ClientConfigFromFile(path)
			if err != nil {
				d.confErr = fmt.Errorf("mx: reading %s: %w", path, err)
				return
			}
			for _, s := range conf.Servers {
				list = append(list, net.JoinHostPort(s, conf.Port))
			}
		}
		for _, s := range list {
			if _, _, err := net.SplitHostPort(s); err != nil {
				s = net.JoinHostPort(s, "53")
			}
			d.servers = append(d.servers, s)
		}
		if len(d.servers) == 0 {
			d.confErr = errors.New("mx: no DNS servers configured")
		}
		d.inFlight = make(map[string]chan struct{}, len(d.servers))
		for _, s := range d.servers {
			d.inFlight[s] = make(chan struct{}, d.maxInFlight())
		}
	})
	return d.servers, d.confErr
}

// LookupMX returns the MX records of name. A null MX (RFC 7505) is returned
// as one record with Host ".", as *net.Resolver does.
func (d *DNS) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	mxs, _, err := d.lookupMX(ctx, name)
	return mxs, err
}

// LookupNetIP returns the addresses of host: network "ip4" asks for A
// records, "ip6" for AAAA, "ip" for both.
func (d *DNS) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	ips, _, err := d.lookupNetIP(ctx, network, host)
	return ips, err
}

func (d *DNS) lookupMX(ctx context.Context, name string) ([]*net.MX, time.Duration, error) {
	rrs, ttl, err := d.query(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, ttl, err
	}
	var mxs []*net.MX
	for _, rr := range rrs {
		if mx, ok := rr.(*dns.MX); ok {
			host := strings.ToLower(mx.Mx)
			if host != "." {
				host = strings.TrimSuffix(host, ".")
			}
			mxs = append(mxs, &net.MX{Host: host, Pref: mx.Preference})
		}
	}
	return mxs, ttl, nil
}

func (d *DNS) lookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, time.Duration, error) {
	var types []uint16
	switch network {
	case "ip":
		types = []uint16{dns.TypeA, dns.TypeAAAA}
	case "ip4":
		types = []uint16{dns.TypeA}
	case "ip6":
		types = []uint16{dns.TypeAAAA}
	default:
		return nil, 0, &net.DNSError{Err: "unsupported network " + network, Name: host}
	}
	type answer struct {
		ips []netip.Addr
		ttl time.Duration
		err error
	}
	answers := make([]answer, len(types))
	var wg sync.WaitGroup
	for i, t := range types {
		wg.Go(func() {
			rrs, ttl, err := d.query(ctx, host, t)
			a := answer{ttl: ttl, err: err}
			for _, rr := range rrs {
				switch rr := rr.(type) {
				case *dns.A:
					if ip, ok := netip.AddrFromSlice(rr.A.To4()); ok {
						a.ips = append(a.ips, ip)
					}
				case *dns.AAAA:
					if ip, ok := netip.AddrFromSlice(rr.AAAA.To16()); ok {
						a.ips = append(a.ips, ip)
					}
				}
			}
			answers[i] = a
		})
	}
	wg.Wait()
	// Addresses from either family win; otherwise NXDOMAIN beats NODATA
	// beats a failure, because a name that does not exist has no records of
	// any type.
	// The TTL of found addresses is theirs alone; a negative answer for the
	// other family does not shorten it.
	var ips []netip.Addr
	ttl, negTTL := time.Duration(-1), time.Duration(-1)
	var firstErr, notFoundErr error
	for _, a := range answers {
		if a.err == nil {
			ips = append(ips, a.ips...)
			ttl = minTTL(ttl, a.ttl)
			continue
		}
		if nf, nx := isNotFound(a.err); nf {
			if notFoundErr == nil || nx {
				notFoundErr = a.err
			}
			negTTL = minTTL(negTTL, a.ttl)
		} else if firstErr == nil {
			firstErr = a.err
		}
	}
	switch {
	case len(ips) > 0:
		return ips, max(ttl, 0), nil
	case notFoundErr != nil && (firstErr == nil || errors.Is(notFoundErr, ErrNoSuchDomain)):
		return nil, max(negTTL, 0), notFoundErr
	case firstErr != nil:
		return nil, 0, firstErr
	}
	return nil, 0, noData(host, "")
}

// query asks for the records of type t at name and returns those that
// answer it, following a CNAME chain inside the answer, with the smallest
// TTL among them. NXDOMAIN and NODATA come back as IsNotFound errors with
// the negative-caching TTL of RFC 2308.
func (d *DNS) query(ctx context.Context, name string, t uint16) ([]dns.RR, time.Duration, error) {
	qname := dns.Fqdn(strings.ToLower(name))
	if _, ok := dns.IsDomainName(qname); !ok {
		return nil, 0, &net.DNSError{Err: "invalid domain name", Name: name}
	}
	r, server, err := d.exchange(ctx, qname, t)
	if err != nil {
		return nil, 0, err
	}
	if r.Rcode == dns.RcodeNameError {
		return nil, negativeTTL(r), &net.DNSError{Err: "no such host", Name: name, Server: server, IsNotFound: true, UnwrapErr: ErrNoSuchDomain}
	}
	out, ttl := answerRecords(r, qname, t)
	if len(out) == 0 {
		return nil, negativeTTL(r), noData(name, server)
	}
	return out, ttl, nil
}

// exchange sends the question to the servers in turn until one gives a
// usable answer (NOERROR or NXDOMAIN).
func (d *DNS) exchange(ctx context.Context, qname string, t uint16) (*dns.Msg, string, error) {
	servers, err := d.serverList()
	if err != nil {
		return nil, "", &net.DNSError{Err: err.Error(), Name: qname}
	}
	var last error
	var lastServer string
	left := d.attempts() * len(servers)
	for range d.attempts() {
		for _, server := range servers {
			if err := ctxerr.Of(ctx); err != nil {
				return nil, server, ctxError(err, qname, server)
			}
			m := new(dns.Msg)
			m.SetQuestion(qname, t)
			m.RecursionDesired = true
			m.SetEdns0(ednsSize, false)
			if last != nil {
				d.counts.retries.Add(1)
			}
			r, err := d.exchangeOne(ctx, m, server, left)
			left--
			lastServer = server
			if err != nil {
				last = err
				continue
			}
			switch r.Rcode {
			case dns.RcodeSuccess, dns.RcodeNameError:
				return r, server, nil
			case dns.RcodeServerFailure:
				last = &net.DNSError{Err: "server misbehaving", Name: qname, Server: server, IsTemporary: true, UnwrapErr: ErrServerFailure}
			case dns.RcodeRefused:
				last = &net.DNSError{Err: "query refused", Name: qname, Server: server, IsTemporary: true, UnwrapErr: ErrRefused}
			default:
				last = &net.DNSError{Err: "server misbehaving: " + dns.RcodeToString[r.Rcode], Name: qname, Server: server, IsTemporary: true}
			}
		}
	}
	if err := ctxerr.Of(ctx); err != nil {
		return nil, lastServer, ctxError(err, qname, lastServer)
	}
	return nil, lastServer, last
}

func ctxError(err error, name, server string) error {
	return &net.DNSError{Err: err.Error(), Name: name, Server: server, IsTimeout: errors.Is(err, context.DeadlineExceeded), UnwrapErr: err}
}

// exchangeOne asks one server: over UDP, then over TCP if the answer was
// truncated. Errors are *net.DNSError.
// left is the tries left, this one included (see tryTimeout).
func (d *DNS) exchangeOne(ctx context.Context, m *dns.Msg, server string, left int) (*dns.Msg, error) {
	release, err := d.acquire(ctx, server)
	if err != nil {
		return nil, ctxError(err, m.Question[0].Name, server)
	}
	defer release()
	d.counts.queries.Add(1)
	ctx, cancel := context.WithTimeout(ctx, d.tryTimeout(ctx, left))
	defer cancel()
	r, err := d.roundTrip(ctx, "udp", m, server)
	if err == nil && r.Truncated {
		r, err = d.roundTrip(ctx, "tcp", m, server)
	}
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) {
			return nil, err
		}
		timeout := errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			timeout = true
		}
		msg := err.Error()
		if timeout {
			msg = "i/o timeout"
			d.counts.timeouts.Add(1)
		}
		return nil, &net.DNSError{Err: msg, Name: m.Question[0].Name, Server: server, IsTimeout: timeout, IsTemporary: true}
	}
	return r, nil
}

func (d *DNS) roundTrip(ctx context.Context, network string, m *dns.Msg, server string) (*dns.Msg, error) {
	conn, err := d.dialer().DialContext(ctx, network, server)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// Once connected, the dial context no longer governs the conn: expire it
	// when ctx ends so no read outlives the caller.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	m.Id = dns.Id()
	c := &dns.Client{Net: network, Timeout: d.timeout()}
	r, _, err := c.ExchangeWithConnContext(ctx, m, &dns.Conn{Conn: conn, UDPSize: ednsSize})
	if err != nil {
		return nil, err
	}
	if !r.Response || len(r.Question) != 1 || r.Question[0].Qtype != m.Question[0].Qtype ||
		!strings.EqualFold(r.Question[0].Name, m.Question[0].Name) {
		return nil, &net.DNSError{Err: "answer does not match the question", Name: m.Question[0].Name, Server: server, IsTemporary: true, UnwrapErr: ErrMalformed}
	}
	return r, nil
}

// LookupAddr returns the names of the PTR records of an IP address (the
// signature of net.Resolver.LookupAddr), without trailing dots.
func (d *DNS) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	arpa, err := dns.ReverseAddr(addr)
	if err != nil {
		return nil, &net.DNSError{Err: "unrecognized address", Name: addr}
	}
	rrs, _, err := d.query(ctx, strings.TrimSuffix(arpa, "."), dns.TypePTR)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, rr := range rrs {
		if p, ok := rr.(*dns.PTR); ok {
			names = append(names, strings.TrimSuffix(strings.ToLower(p.Ptr), "."))
		}
	}
	return names, nil
}
