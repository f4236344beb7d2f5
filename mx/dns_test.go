package mx

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestDNSLookupMX(t *testing.T) {
	t.Parallel()
	z := standardZone(t)
	d := testDNS(serve(t, z))
	ctx := t.Context()

	mxs, ttl, err := d.lookupMX(ctx, "Example.TEST")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range mxs {
		got = append(got, m.Host)
	}
	slices.Sort(got)
	if want := []string{"mx1.example.test", "mx2.example.test", "mx3.example.test"}; !slices.Equal(got, want) {
		t.Errorf("MX hosts = %q, want %q", got, want)
	}
	if ttl != time.Hour {
		t.Errorf("TTL = %v, want 1h", ttl)
	}

	if mxs, err := d.LookupMX(ctx, "nullmx.test"); err != nil || len(mxs) != 1 || mxs[0].Host != "." || mxs[0].Pref != 0 {
		t.Errorf("null MX = %v, %v; want one record with Host \".\"", mxs, err)
	}

	// A domain that is a CNAME: the chain in the answer is followed.
	if mxs, err := d.LookupMX(ctx, "mxcname.test"); err != nil || len(mxs) != 3 {
		t.Errorf("MX through CNAME = %v, %v", mxs, err)
	}

	_, ttl, err = d.lookupMX(ctx, "nx.test")
	if nf, nx := isNotFound(err); !nf || !nx || !errors.Is(err, ErrNoSuchDomain) {
		t.Errorf("NXDOMAIN: err = %v, want IsNotFound with ErrNoSuchDomain", err)
	}
	if ttl != 60*time.Second {
		t.Errorf("NXDOMAIN negative TTL = %v, want 60s (SOA minimum)", ttl)
	}

	_, _, err = d.lookupMX(ctx, "implicit.test")
	if nf, nx := isNotFound(err); !nf || nx || !errors.Is(err, ErrNoData) {
		t.Errorf("NODATA: err = %v, want IsNotFound with ErrNoData", err)
	}

	_, err = d.LookupMX(ctx, "servfail.test")
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsTemporary || de.IsNotFound || !errors.Is(err, ErrServerFailure) {
		t.Errorf("SERVFAIL: err = %#v, want temporary with ErrServerFailure", err)
	}
}

func TestDNSLookupNetIP(t *testing.T) {
	t.Parallel()
	z := standardZone(t)
	d := testDNS(serve(t, z))
	ctx := t.Context()
	for _, tc := range []struct {
		network string
		want    []string
	}{
		{"ip", []string{"1.2.3.4", "2606:4700::1"}},
		{"ip4", []string{"1.2.3.4"}},
		{"ip6", []string{"2606:4700::1"}},
	} {
		ips, err := d.LookupNetIP(ctx, tc.network, "mx1.example.test")
		if err != nil {
			t.Fatalf("%s: %v", tc.network, err)
		}
		var got []string
		for _, ip := range ips {
			got = append(got, ip.String())
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("LookupNetIP(%s) = %q, want %q", tc.network, got, tc.want)
		}
	}
	// CNAME chain to the address.
	if ips, err := d.LookupNetIP(ctx, "ip", "alias.cname.test"); err != nil || len(ips) != 1 || ips[0] != netip.MustParseAddr("1.2.3.7") {
		t.Errorf("through CNAME: %v, %v", ips, err)
	}
	// NXDOMAIN wins over NODATA across the two families.
	if _, err := d.LookupNetIP(ctx, "ip", "nope.test"); !errors.Is(err, ErrNoSuchDomain) {
		t.Errorf("NXDOMAIN host: %v", err)
	}
	if _, err := d.LookupNetIP(ctx, "ip", "empty.test"); !errors.Is(err, ErrNoData) {
		t.Errorf("NODATA host: %v", err)
	}
	if _, err := d.LookupNetIP(ctx, "tcp", "mx1.example.test"); err == nil {
		t.Error("unsupported network accepted")
	}
}

func TestDNSTruncationFallsBackToTCP(t *testing.T) {
	t.Parallel()
	z := standardZone(t)
	d := testDNS(serve(t, z))
	mxs, err := d.LookupMX(t.Context(), "big.test")
	if err != nil || len(mxs) != 40 {
		t.Fatalf("big.test: %d records, %v; want 40", len(mxs), err)
	}
	if n := z.TCPQueries(); n != 1 {
		t.Errorf("TCP queries = %d, want 1", n)
	}
}

func TestDNSTimeoutAndRetries(t *testing.T) {
	t.Parallel()
	z := standardZone(t)
	addr := serve(t, z)
	d := &DNS{Servers: []string{addr}, Timeout: 100 * time.Millisecond, Attempts: 3}
	start := time.Now()
	_, err := d.LookupMX(t.Context(), "slow.test")
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsTimeout || de.IsNotFound {
		t.Fatalf("err = %#v, want a timeout", err)
	}
	if n := z.Count(dns.TypeMX, "slow.test"); n != 3 {
		t.Errorf("server asked %d times, want 3 (Attempts)", n)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %v for 3 attempts of 100ms", el)
	}
}

func TestDNSContextCancel(t *testing.T) {
	t.Parallel()
	z := standardZone(t)
	d := &DNS{Servers: []string{serve(t, z)}, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := d.LookupMX(ctx, "slow.test")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("cancelled lookup took %v", el)
	}
}

// refuser answers REFUSED to everything.
type refuser struct{}

func (refuser) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetRcode(req, dns.RcodeRefused)
	w.WriteMsg(m)
}

func TestDNSNextServerAfterRefusal(t *testing.T) {
	t.Parallel()
	bad := serve(t, refuser{})
	good := serve(t, standardZone(t))
	d := testDNS(bad, good)
	if mxs, err := d.LookupMX(t.Context(), "example.test"); err != nil || len(mxs) != 3 {
		t.Errorf("with a refusing first server: %v, %v", mxs, err)
	}
	_, err := testDNS(bad).LookupMX(t.Context(), "example.test")
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsTemporary || !errors.Is(err, ErrRefused) {
		t.Errorf("all servers refuse: %v", err)
	}
}

// hostile answers every query with the scripted reply bytes.
func hostile(t *testing.T, reply func(query []byte) []byte) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(reply(buf[:n]), from)
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return pc.LocalAddr().String()
}

func TestDNSHostileAnswers(t *testing.T) {
	t.Parallel()
	wrongQuestion := func(q []byte) []byte {
		req := new(dns.Msg)
		if err := req.Unpack(q); err != nil {
			return nil
		}
		m := new(dns.Msg)
		m.SetReply(req)
		m.Question[0].Name = "other.test."
		m.Answer = append(m.Answer, rr(t, "other.test. 60 IN MX 10 evil.test."))
		b, _ := m.Pack()
		return b
	}
	for name, reply := range map[string]func([]byte) []byte{
		"garbage": func([]byte) []byte { return []byte("\x00\x01garbage that is no DNS message at all") },
		"echo id, truncated header": func(q []byte) []byte {
			return q[:min(len(q), 7)]
		},
		"bad rdata length": func(q []byte) []byte {
			b := append([]byte(nil), q...)
			b[2] |= 0x80                                                              // QR
			b[7] = 1                                                                  // ANCOUNT = 1
			return append(b, 0xc0, 0x0c, 0, 15, 0, 1, 0, 0, 0, 60, 0xff, 0xff, 0, 10) // MX with RDLENGTH 65535
		},
		"wrong question": wrongQuestion,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := testDNS(hostile(t, reply))
			mxs, err := d.LookupMX(t.Context(), "example.test")
			var de *net.DNSError
			if !errors.As(err, &de) || de.IsNotFound || len(mxs) != 0 {
				t.Errorf("hostile answer: %v, %v; want a non-not-found DNS error and no records", mxs, err)
			}
		})
	}
}

func TestDNSResolvConf(t *testing.T) {
	t.Parallel()
	addr := serve(t, standardZone(t))
	host, port, _ := net.SplitHostPort(addr)
	conf := t.TempDir() + "/resolv.conf"
	if err := writeFile(conf, "nameserver "+host+"\noptions timeout:1\n"); err != nil {
		t.Fatal(err)
	}
	// resolv.conf has no port; this test's server has one, so it goes in
	// Servers as a bare host and the resolv.conf path is checked alone.
	d := &DNS{ResolvConf: conf}
	servers, err := d.serverList()
	if err != nil || len(servers) != 1 || servers[0] != net.JoinHostPort(host, "53") {
		t.Errorf("servers from resolv.conf = %q, %v", servers, err)
	}
	d2 := &DNS{Servers: []string{net.JoinHostPort(host, port)}}
	if mxs, err := d2.LookupMX(t.Context(), "example.test"); err != nil || len(mxs) != 3 {
		t.Errorf("explicit server: %v, %v", mxs, err)
	}
	if _, err := (&DNS{ResolvConf: t.TempDir() + "/missing"}).LookupMX(t.Context(), "example.test"); err == nil {
		t.Error("missing resolv.conf gave no error")
	}
}

func TestDNSLookupAddr(t *testing.T) {
	t.Parallel()
	z := standardZone(t)
	z.Add("4.3.2.1.in-addr.arpa. 300 IN PTR MX1.Example.TEST.")
	d := testDNS(serve(t, z))
	names, err := d.LookupAddr(t.Context(), "1.2.3.4")
	if err != nil || len(names) != 1 || names[0] != "mx1.example.test" {
		t.Errorf("LookupAddr = %q, %v", names, err)
	}
	if _, err := d.LookupAddr(t.Context(), "1.2.3.5"); !errors.Is(err, ErrNoSuchDomain) {
		t.Errorf("no PTR: %v", err)
	}
	if _, err := d.LookupAddr(t.Context(), "not-an-ip"); err == nil {
		t.Error("bad address accepted")
	}
}
