package mx

import (
	"cmp"
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mailverify/mailverify/syntax"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"
)

// A Client finds the mail servers of domains. The zero value is ready to
// use: it asks the servers of /etc/resolv.conf, refuses non-public
// addresses, and caches answers for their TTL. A Client is safe for
// concurrent use and must not be changed after first use.
type Client struct {
	// Resolver answers the DNS questions; nil means a [*DNS] with its
	// defaults. A *net.Resolver works too, without TTLs (see DefaultTTL).
	Resolver Resolver
	// AllowPrivate turns the SSRF guard off: mail hosts on loopback,
	// private and reserved addresses are kept. For tests and for
	// verifying addresses on a private network.
	AllowPrivate bool
	// MaxHosts bounds how many MX hosts are resolved and returned. Zero
	// means 10: real domains rarely publish more, and a hostile one could
	// publish hundreds.
	MaxHosts int
	// Timeout bounds one lookup's DNS work, which is shared by every caller
	// asking for the same domain at once. Zero means 15s. A caller's own
	// context may end its wait sooner; the shared work goes on for the
	// others and fills the cache.
	Timeout time.Duration
	// CacheSize bounds the number of domains cached. Zero means 10,000;
	// negative disables the cache.
	CacheSize int
	// MaxTTL caps how long any answer is cached. Zero means 1h, so a
	// changed MX is seen within the hour whatever TTL it was published
	// with.
	MaxTTL time.Duration
	// DefaultTTL is the cache time for answers from a resolver that reports
	// no TTL, such as *net.Resolver. Zero means 5m.
	DefaultTTL time.Duration
	// Canary is a domain that surely has MX records, asked before any
	// NXDOMAIN is believed. A resolver that denies it too (captive
	// portals, sandboxes, filtering resolvers that answer NXDOMAIN for
	// everything) cannot be trusted: the lookup is Temporary with an error
	// wrapping [ErrUntrustedResolver]. Empty means "gmail.com"; "-" turns
	// the check off. The check is cached: 10 minutes when the resolver is
	// sane, 30 seconds when not.
	Canary string

	initOnce sync.Once
	res      ttlResolver
	cache    *cache
	group    singleflight.Group // the canary check

	flightMu sync.Mutex
	flights  map[string]*flight // lookups in progress, by domain
	now      func() time.Time   // for tests

	canaryMu    sync.Mutex
	canaryState canaryState
}

// The Policy that judges the domains given to Lookup: any valid domain,
// including single-label and special-use names (tests use .test zones).
var lookupPolicy = syntax.Policy{AllowSingleLabel: true, AllowSpecialUse: true, AllowNumericTLD: true}

func (c *Client) init() {
	c.initOnce.Do(func() {
		switch r := c.Resolver.(type) {
		case nil:
			c.res = &DNS{}
		case ttlResolver:
			c.res = r
		default:
			ttl := c.DefaultTTL
			if ttl <= 0 {
				ttl = 5 * time.Minute
			}
			c.res = ttlOf{r: r, ttl: ttl}
		}
		size := c.CacheSize
		if size == 0 {
			size = 10000
		}
		if size > 0 {
			c.cache = newCache(size)
		}
		if c.now == nil {
			c.now = time.Now
		}
	})
}

func (c *Client) maxHosts() int {
	if c.MaxHosts > 0 {
		return c.MaxHosts
	}
	return 10
}

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return 15 * time.Second
}

func (c *Client) maxTTL() time.Duration {
	if c.MaxTTL > 0 {
		return c.MaxTTL
	}
	return time.Hour
}

// Lookup returns the mail servers of domain (U-label or A-label form, any
// case, with or without the trailing dot). DNS failures are a Temporary
// Result, not an error: the error is non-nil only when domain is not a
// valid domain name (a *syntax.Error, before any query) or ctx ended first.
func (c *Client) Lookup(ctx context.Context, domain string) (Result, error) {
	c.init()
	_, ascii, err := lookupPolicy.ParseDomain(strings.TrimSuffix(domain, "."))
	if err != nil {
		return Result{}, err
	}
	if c.cache != nil {
		if r, ok := c.cache.get(ascii, c.now()); ok {
			return shuffled(r), nil
		}
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	f := c.join(ctx, ascii)
	select {
	case <-ctx.Done():
		c.leave(ascii, f)
		return Result{}, ctx.Err()
	case <-f.done:
		c.leave(ascii, f)
		return shuffled(f.res), nil
	}
}

// resolve does the DNS work of one lookup.
func (c *Client) resolve(ctx context.Context, domain string) Result {
	r := Result{Domain: domain}
	mxs, ttl, err := c.res.lookupMX(ctx, domain)
	if notFound, nxdomain := isNotFound(err); nxdomain {
		if err := c.trustNXDOMAIN(ctx, domain); err != nil {
			return temporary(r, err)
		}
		r.Status, r.TTL = DomainNotFound, ttl
		return r
	} else if err != nil && !notFound {
		return temporary(r, err)
	}
	var real []*net.MX
	null := false
	for _, mx := range mxs {
		if mx == nil {
			continue
		}
		if isNullHost(mx.Host) {
			null = true
			continue
		}
		real = append(real, mx)
	}
	switch {
	case len(real) == 0 && null:
		// RFC 7505: the domain takes no mail. A null MX alongside other MX
		// records is a misconfiguration; the other records are used then.
		r.Status, r.TTL = NullMX, ttl
		return r
	case len(real) == 0:
		return c.implicit(ctx, r)
	}
	slices.SortStableFunc(real, func(a, b *net.MX) int { return cmp.Compare(a.Pref, b.Pref) })
	real = slices.CompactFunc(real, func(a, b *net.MX) bool {
		return a.Pref == b.Pref && strings.EqualFold(strings.TrimSuffix(a.Host, "."), strings.TrimSuffix(b.Host, "."))
	})
	if len(real) > c.maxHosts() {
		real = real[:c.maxHosts()]
	}
	r.Hosts = make([]Host, len(real))
	ttls := make([]time.Duration, len(real))
	var g errgroup.Group
	g.SetLimit(4)
	for i, mx := range real {
		name := strings.ToLower(strings.TrimSuffix(mx.Host, "."))
		r.Hosts[i] = Host{Name: name, Pref: mx.Pref}
		g.Go(func() error {
			ttls[i] = c.resolveHost(ctx, &r.Hosts[i])
			return nil
		})
	}
	g.Wait()
	r.TTL = ttl
	for _, t := range ttls {
		r.TTL = min(r.TTL, t)
	}
	// The provider is the operator of the most-preferred hosts: a backup
	// MX at Google says nothing about the primary.
	for _, h := range r.Hosts {
		if h.Pref != r.Hosts[0].Pref {
			break
		}
		if p := ProviderOf(h.Name); p != "" {
			r.Provider = p
			break
		}
	}
	// Within each preference, usable hosts first.
	slices.SortStableFunc(r.Hosts, func(a, b Host) int {
		if c := cmp.Compare(a.Pref, b.Pref); c != 0 {
			return c
		}
		return cmp.Compare(usableRank(a), usableRank(b))
	})
	return judge(r)
}

// implicit applies the implicit MX rule of RFC 5321 section 5.1: with no MX
// records, the domain's own A/AAAA records are its mail server.
func (c *Client) implicit(ctx context.Context, r Result) Result {
	h := Host{Name: r.Domain}
	ttl := c.resolveHost(ctx, &h)
	if h.Err != nil {
		nf, nx := isNotFound(h.Err)
		if nx {
			if err := c.trustNXDOMAIN(ctx, r.Domain); err != nil {
				return temporary(r, err)
			}
		}
		switch {
		case nx:
			r.Status, r.TTL = DomainNotFound, ttl
		case nf:
			r.Status, r.TTL = NoMailServer, ttl
		default:
			r = temporary(r, h.Err)
		}
		return r
	}
	r.Implicit, r.Hosts, r.TTL = true, []Host{h}, ttl
	return judge(r)
}

// resolveHost fills in h's addresses, applying the SSRF guard, and returns
// the answer's TTL.
func (c *Client) resolveHost(ctx context.Context, h *Host) time.Duration {
	var ips []netip.Addr
	var ttl time.Duration
	if ip, err := netip.ParseAddr(h.Name); err == nil {
		// Some domains publish an address as the MX host; RFC 5321 forbids
		// it, but mail software follows it, and so do we.
		ips, ttl = []netip.Addr{ip}, time.Duration(1<<63-1)
	} else {
		ips, ttl, err = c.res.lookupNetIP(ctx, "ip", h.Name)
		if err != nil {
			h.Err = err
			return ttl
		}
	}
	ips = slices.Clone(ips)
	// IPv6 first, then IPv4, each in the resolver's order.
	slices.SortStableFunc(ips, func(a, b netip.Addr) int { return cmp.Compare(b.Unmap().BitLen(), a.Unmap().BitLen()) })
	for _, ip := range slices.Compact(ips) {
		if c.AllowPrivate && ip.IsValid() || Routable(ip) {
			h.Addrs = append(h.Addrs, ip.Unmap())
		} else {
			h.Refused = append(h.Refused, ip)
		}
	}
	if len(h.Addrs) == 0 && len(h.Refused) == 0 {
		h.Err = &net.DNSError{Err: "no addresses", Name: h.Name, IsNotFound: true, UnwrapErr: ErrNoData}
	}
	return ttl
}
