package mx

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/syntax"
	"github.com/miekg/dns"
)

func hostNames(r Result) []string {
	var out []string
	for _, h := range r.Hosts {
		out = append(out, h.Name)
	}
	return out
}

func TestLookupOutcomes(t *testing.T) {
	t.Parallel()
	z := standardZone(t)
	c := &Client{Resolver: testDNS(serve(t, z))}
	for _, tc := range []struct {
		domain   string
		status   Status
		hosts    int
		implicit bool
		provider Provider
	}{
		{"example.test", Found, 3, false, ""},
		{"EXAMPLE.test.", Found, 3, false, ""},
		{"nullmx.test", NullMX, 0, false, ""},
		{"cname.test", Found, 1, false, ""},
		{"implicit.test", Found, 1, true, ""},
		{"empty.test", NoMailServer, 0, false, ""},
		{"nx.test", DomainNotFound, 0, false, ""},
		{"servfail.test", Temporary, 0, false, ""},
		{"private.test", Unroutable, 1, false, ""},
		{"partial.test", Found, 2, false, ""},
		{"allgone.test", NoMailServer, 1, false, ""},
		{"hosttemp.test", Temporary, 1, false, ""},
		{"gmail.test", Found, 1, false, Google},
		{"numeric.test", Found, 1, false, ""},
	} {
		r, err := c.Lookup(t.Context(), tc.domain)
		if err != nil {
			t.Errorf("Lookup(%q): %v", tc.domain, err)
			continue
		}
		if r.Status != tc.status || len(r.Hosts) != tc.hosts || r.Implicit != tc.implicit || r.Provider != tc.provider {
			t.Errorf("Lookup(%q) = %v with %d hosts %q (implicit %v, provider %q), want %v with %d (implicit %v, provider %q)",
				tc.domain, r.Status, len(r.Hosts), hostNames(r), r.Implicit, r.Provider, tc.status, tc.hosts, tc.implicit, tc.provider)
		}
		if (r.Status == Temporary) != (r.Err != nil) {
			t.Errorf("Lookup(%q): status %v with Err %v", tc.domain, r.Status, r.Err)
		}
	}
}

func TestLookupHostDetails(t *testing.T) {
	t.Parallel()
	z := standardZone(t)
	c := &Client{Resolver: testDNS(serve(t, z))}
	ctx := t.Context()

	r, _ := c.Lookup(ctx, "example.test")
	if r.Hosts[2].Name != "mx2.example.test" || r.Hosts[2].Pref != 20 {
		t.Errorf("preference 20 host not last: %q", hostNames(r))
	}
	if r.TTL != 120*time.Second {
		t.Errorf("TTL = %v, want 120s (the smallest record TTL)", r.TTL)
	}
	for _, h := range r.Hosts {
		if h.Name == "mx1.example.test" {
			want := []netip.Addr{netip.MustParseAddr("2606:4700::1"), netip.MustParseAddr("1.2.3.4")}
			if len(h.Addrs) != 2 || h.Addrs[0] != want[0] || h.Addrs[1] != want[1] {
				t.Errorf("mx1 addresses = %v, want IPv6 first: %v", h.Addrs, want)
			}
		}
	}

	// An MX host that does not exist is reported, after the usable ones.
	r, _ = c.Lookup(ctx, "partial.test")
	if r.Hosts[0].Name != "gone.partial.test" || !errors.Is(r.Hosts[0].Err, ErrNoSuchDomain) || r.Hosts[1].Err != nil {
		t.Errorf("partial.test hosts = %+v", r.Hosts)
	}
	if u := r.Usable(); len(u) != 1 || u[0].Name != "ok.partial.test" {
		t.Errorf("Usable() = %+v", u)
	}

	// The SSRF guard refuses loopback and private addresses...
	r, _ = c.Lookup(ctx, "private.test")
	if len(r.Hosts[0].Addrs) != 0 || len(r.Hosts[0].Refused) != 3 {
		t.Errorf("guarded private.test host = %+v", r.Hosts[0])
	}
	// ...unless allowed.
	open := &Client{Resolver: c.Resolver, AllowPrivate: true}
	r, _ = open.Lookup(ctx, "private.test")
	if r.Status != Found || len(r.Hosts[0].Addrs) != 3 {
		t.Errorf("AllowPrivate: %v %+v", r.Status, r.Hosts)
	}

	// A negative answer is cached for the SOA minimum.
	r, _ = c.Lookup(ctx, "nx.test")
	if r.TTL != 60*time.Second {
		t.Errorf("NXDOMAIN TTL = %v, want 60s", r.TTL)
	}
}

func TestLookupShufflesEqualPreferences(t *testing.T) {
	t.Parallel()
	z := standardZone(t)
	c := &Client{Resolver: testDNS(serve(t, z))}
	first := map[string]int{}
	for range 200 {
		r, err := c.Lookup(t.Context(), "example.test")
		if err != nil || len(r.Hosts) != 3 {
			t.Fatalf("%v %v", r, err)
		}
		if r.Hosts[2].Name != "mx2.example.test" {
			t.Fatalf("shuffle crossed preferences: %q", hostNames(r))
		}
		first[r.Hosts[0].Name]++
	}
	if first["mx1.example.test"] < 40 || first["mx3.example.test"] < 40 {
		t.Errorf("equal-preference hosts not shuffled: first host counts %v over 200 lookups", first)
	}
	if n := z.Count(dns.TypeMX, "example.test"); n != 1 {
		t.Errorf("MX queried %d times for 200 lookups, want 1 (cached)", n)
	}
}

func TestLookupBadInputNeverQueries(t *testing.T) {
	t.Parallel()
	z := standardZone(t)
	c := &Client{Resolver: testDNS(serve(t, z))}
	for _, d := range []string{"", "exa mple.com", "xn--a.com", "a..b", "example.com\r\nX", "[192.0.2.1]", string(make([]byte, 300))} {
		_, err := c.Lookup(t.Context(), d)
		var se *syntax.Error
		if !errors.As(err, &se) {
			t.Errorf("Lookup(%q): err = %v, want *syntax.Error", d, err)
		}
	}
	if n := z.Queries(); n != 0 {
		t.Errorf("invalid names reached the server: %d queries", n)
	}
}

func TestLookupMergesConcurrentCalls(t *testing.T) {
	t.Parallel()
	z := standardZone(t)
	// A generous timeout: a query timed out under load (the race
	// detector, every package at once) makes a result that is not cached,
	// and later callers then ask again; that is right, but not what this
	// test is about.
	c := &Client{Resolver: &DNS{Servers: []string{serve(t, z)}, Timeout: 10 * time.Second, Attempts: 1}}
	var wg sync.WaitGroup
	var failures atomic.Int32
	for range 1000 {
		wg.Go(func() {
			r, err := c.Lookup(t.Context(), "example.test")
			if err != nil || r.Status != Found || len(r.Hosts) != 3 {
				failures.Add(1)
			}
		})
	}
	wg.Wait()
	if failures.Load() != 0 {
		t.Errorf("%d of 1000 concurrent lookups failed", failures.Load())
	}
	if n := z.Count(dns.TypeMX, "example.test"); n != 1 {
		t.Errorf("1000 concurrent lookups made %d MX queries, want 1", n)
	}
	if n := z.Count(dns.TypeA, "mx1.example.test"); n != 1 {
		t.Errorf("1000 concurrent lookups made %d A queries for mx1, want 1", n)
	}
}

func TestLookupCacheExpiresWithTTL(t *testing.T) {
	t.Parallel()
	z := standardZone(t)
	c := &Client{Resolver: testDNS(serve(t, z))}
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	c.now = func() time.Time { return time.Unix(0, now.Load()) }
	ctx := t.Context()
	lookup := func() {
		if _, err := c.Lookup(ctx, "example.test"); err != nil {
			t.Fatal(err)
		}
	}
	lookup()
	now.Add(int64(119 * time.Second))
	lookup()
	if n := z.Count(dns.TypeMX, "example.test"); n != 1 {
		t.Fatalf("within the TTL: %d MX queries, want 1", n)
	}
	now.Add(int64(2 * time.Second)) // past the 120s TTL
	lookup()
	if n := z.Count(dns.TypeMX, "example.test"); n != 2 {
		t.Errorf("after the TTL: %d MX queries, want 2", n)
	}

	// Temporary failures are not cached.
	for range 3 {
		c.Lookup(ctx, "servfail.test")
	}
	if n := z.Count(dns.TypeMX, "servfail.test"); n != 3 {
		t.Errorf("SERVFAIL answers cached: %d queries for 3 lookups", n)
	}

	// MaxTTL caps long TTLs.
	capped := &Client{Resolver: c.Resolver, MaxTTL: time.Minute}
	if r, _ := capped.Lookup(ctx, "nullmx.test"); r.TTL != time.Minute {
		t.Errorf("MaxTTL: TTL = %v, want 1m", r.TTL)
	}
}

// blocking is a Resolver whose MX answers wait for release.
type blocking struct {
	release chan struct{}
	started chan struct{}
	once    sync.Once
	calls   atomic.Int32
	ended   atomic.Int32
}

func (b *blocking) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	b.calls.Add(1)
	b.once.Do(func() { close(b.started) })
	defer b.ended.Add(1)
	select {
	case <-b.release:
	case <-ctx.Done():
		return nil, &net.DNSError{Err: ctx.Err().Error(), Name: name, IsTimeout: true}
	}
	return []*net.MX{{Host: "mx." + name, Pref: 10}}, nil
}

func (b *blocking) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("1.2.3.4")}, nil
}

func TestLookupCancelDoesNotFailOthers(t *testing.T) {
	t.Parallel()
	b := &blocking{release: make(chan struct{}), started: make(chan struct{})}
	c := &Client{Resolver: b}
	ctx, cancel := context.WithCancel(t.Context())
	firstDone := make(chan error)
	go func() {
		_, err := c.Lookup(ctx, "example.com")
		firstDone <- err
	}()
	<-b.started
	secondDone := make(chan Result)
	go func() {
		r, err := c.Lookup(t.Context(), "example.com")
		if err != nil {
			t.Error(err)
		}
		secondDone <- r
	}()
	for c.callers("example.com") < 2 { // the second has joined the lookup
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-firstDone; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller: err = %v", err)
	}
	close(b.release)
	if r := <-secondDone; r.Status != Found {
		t.Errorf("the other caller got %v, want found", r.Status)
	}
	if n := b.calls.Load(); n != 1 {
		t.Errorf("%d MX lookups, want 1 shared", n)
	}
}

func TestLookupWithNetResolverShape(t *testing.T) {
	t.Parallel()
	// A resolver that cannot tell NXDOMAIN from NODATA, like *net.Resolver.
	r := &plainResolver{}
	c := &Client{Resolver: r, DefaultTTL: 42 * time.Second}
	res, err := c.Lookup(t.Context(), "nowhere.example")
	if err != nil || res.Status != NoMailServer {
		t.Errorf("ambiguous not-found = %v, %v; want no_mail_server", res.Status, err)
	}
	if res.TTL != 42*time.Second {
		t.Errorf("TTL = %v, want DefaultTTL", res.TTL)
	}
}

type plainResolver struct{}

func (plainResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (plainResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func TestLookupMaxHosts(t *testing.T) {
	t.Parallel()
	z := standardZone(t)
	c := &Client{Resolver: testDNS(serve(t, z)), MaxHosts: 5}
	for i := range 40 {
		z.Records["mx"+string(rune('a'+i%26))+string(rune('a'+i/26))+".big.test."] = nil
	}
	r, err := c.Lookup(t.Context(), "big.test")
	if err != nil || len(r.Hosts) != 5 {
		t.Errorf("MaxHosts 5: %d hosts, %v", len(r.Hosts), err)
	}
}

func TestStatusText(t *testing.T) {
	t.Parallel()
	for s, want := range map[Status]string{Found: "found", DomainNotFound: "domain_not_found", NoMailServer: "no_mail_server", NullMX: "null_mx", Unroutable: "unroutable", Temporary: "temporary", Status(99): "Status(99)"} {
		if b, _ := s.MarshalText(); string(b) != want || s.String() != want {
			t.Errorf("Status(%d) text = %q, want %q", int(s), b, want)
		}
	}
}

// TestLyingResolver: a resolver that answers NXDOMAIN for every name is
// no evidence that a domain is missing.
func TestLyingResolver(t *testing.T) {
	t.Parallel()
	liar := newZone(t) // an empty zone: NXDOMAIN for everything
	c := &Client{Resolver: testDNS(serve(t, liar))}
	for _, domain := range []string{"gmail.com", "example.test", "nx.test"} {
		r, err := c.Lookup(t.Context(), domain)
		if err != nil || r.Status != Temporary || !errors.Is(r.Err, ErrUntrustedResolver) {
			t.Errorf("Lookup(%q) via a lying resolver = %v, %v, %v; want temporary with ErrUntrustedResolver", domain, r.Status, r.Err, err)
		}
	}
	// A sane resolver: NXDOMAIN is believed, and the canary is asked once.
	z := standardZone(t)
	var n atomic.Int32
	counting := dns.HandlerFunc(func(w dns.ResponseWriter, m *dns.Msg) {
		if len(m.Question) > 0 && m.Question[0].Name == "gmail.com." {
			n.Add(1)
		}
		z.ServeDNS(w, m)
	})
	sane := &Client{Resolver: testDNS(serve(t, counting))}
	for _, domain := range []string{"nx.test", "nx2.test", "nx3.test"} {
		if r, _ := sane.Lookup(t.Context(), domain); r.Status != DomainNotFound {
			t.Errorf("Lookup(%q) = %v %v, want domain_not_found", domain, r.Status, r.Err)
		}
	}
	if n.Load() != 1 {
		t.Errorf("canary asked %d times for 3 NXDOMAIN answers, want 1", n.Load())
	}
	off := &Client{Resolver: testDNS(serve(t, liar)), Canary: "-"}
	if r, _ := off.Lookup(t.Context(), "nx.test"); r.Status != DomainNotFound {
		t.Errorf("with the canary off: %v", r.Status)
	}
}

// TestProviderFromPrimaryOnly: a backup MX at a known provider does not
// make the domain that provider's.
func TestProviderFromPrimaryOnly(t *testing.T) {
	t.Parallel()
	z := newZone(t,
		"acme.test. 300 IN MX 10 mx.acme.test.",
		"acme.test. 300 IN MX 20 alt1.aspmx.l.google.com.",
		"mx.acme.test. 300 IN A 1.2.3.4",
		"alt1.aspmx.l.google.com. 300 IN A 1.2.3.5",
		"ws.test. 300 IN MX 1 aspmx.l.google.com.",
		"aspmx.l.google.com. 300 IN A 1.2.3.6",
	)
	c := &Client{Resolver: testDNS(serve(t, z))}
	if r, _ := c.Lookup(t.Context(), "acme.test"); r.Provider != "" {
		t.Errorf("acme.test provider %q from its backup MX", r.Provider)
	}
	if r, _ := c.Lookup(t.Context(), "ws.test"); r.Provider != Google {
		t.Errorf("ws.test provider %q, want google", r.Provider)
	}
}

// callers returns how many callers wait for the lookup of domain.
func (c *Client) callers(domain string) int {
	c.flightMu.Lock()
	defer c.flightMu.Unlock()
	if f := c.flights[domain]; f != nil {
		return f.callers
	}
	return 0
}

// A lookup that every caller has left ends: nothing is left running
// against a DNS server that never answers.
func TestLookupEndsWhenEveryCallerLeft(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &blocking{release: make(chan struct{}), started: make(chan struct{})}
		c := &Client{Resolver: b, Timeout: time.Hour}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if _, err := c.Lookup(ctx, "example.com"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
		synctest.Wait() // no time passes: only what was cancelled ends
		if n := b.ended.Load(); n != 1 {
			t.Errorf("%d MX queries ended after the caller left, want 1", n)
		}
	})
}
