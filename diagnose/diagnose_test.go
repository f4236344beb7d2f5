package diagnose

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testdns"
	"github.com/mailverify/mailverify/internal/testsmtp"
)

// cert makes a self-signed certificate for name valid for days, and the
// pool that trusts it.
func cert(t *testing.T, name string, days int) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Duration(days) * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}

// fixture is two domains on loopback: good.test, set up right, and
// bad.test, set up wrong in every way a check looks at.
type fixture struct {
	cfg  Config
	zone *testdns.Zone
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	goodTLS, roots := cert(t, "mx.good.test", 90)
	good := testsmtp.Mailboxes("postmaster@good.test", "abuse@good.test")
	good.TLS = goodTLS
	good.Banner = testsmtp.Reply{Code: 220, Lines: []string{"mx.good.test ESMTP"}}
	good.Handlers["VRFY"] = func(*testsmtp.Conn, testsmtp.Command) testsmtp.Reply { return testsmtp.R(252, "2.5.2", "Cannot VRFY") }
	bad := &testsmtp.Server{Handlers: map[string]testsmtp.Handler{ // no TLS, relays, answers VRFY
		"VRFY": func(*testsmtp.Conn, testsmtp.Command) testsmtp.Reply {
			return testsmtp.R(250, "2.1.5", "Postmaster <postmaster@bad.test>")
		},
	}}
	var port int
	for range 10 {
		l1, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port = l1.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.2:%d", port))
		if err != nil {
			l1.Close()
			continue
		}
		good.Serve(l1)
		bad.Serve(l2)
		break
	}
	t.Cleanup(good.Close)
	t.Cleanup(bad.Close)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	spki, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	dkim := base64.StdEncoding.EncodeToString(spki)
	sts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "mta-sts.good.test" || r.URL.Path != "/.well-known/mta-sts.txt" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "version: STSv1\r\nmode: enforce\r\nmx: mx.good.test\r\nmax_age: 604800\r\n")
	}))
	t.Cleanup(sts.Close)
	lines := []string{
		"good.test. 300 IN MX 10 mx.good.test.",
		"good.test. 300 IN NS ns1.good.test.",
		"good.test. 300 IN NS ns2.good.test.",
		"good.test. 300 IN SOA ns1.good.test. hostmaster.good.test. 2026120101 3600 600 86400 300",
		"ns1.good.test. 300 IN A 127.0.0.1",
		"ns2.good.test. 300 IN A 127.0.0.1",
		"mx.good.test. 300 IN A 127.0.0.1",
		"1.0.0.127.in-addr.arpa. 300 IN PTR mx.good.test.",
		`good.test. 300 IN TXT "v=spf1 mx -all"`,
		`_dmarc.good.test. 300 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@good.test"`,
		`sel1._domainkey.good.test. 300 IN TXT "v=DKIM1; k=rsa; p=` + dkim + `"`,
		`_mta-sts.good.test. 300 IN TXT "v=STSv1; id=20261201"`,
		`_smtp._tls.good.test. 300 IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@good.test"`,

		"bad.test. 300 IN MX 10 mx.bad.test.",
		"bad.test. 300 IN MX 20 mx2.bad.test.",
		"bad.test. 300 IN NS ns1.bad.test.",
		"ns1.bad.test. 300 IN A 127.0.0.3", // answers nothing: lame
		"mx.bad.test. 300 IN A 127.0.0.2",
		"mx.bad.test. 300 IN AAAA ::1", // nothing listens there
		"mx2.bad.test. 300 IN CNAME mx.bad.test.",
		"2.0.0.127.bl.test. 300 IN A 127.0.0.2",
		`_dmarc.bad.test. 300 IN TXT "v=DMARC1; p=none"`,
		`_mta-sts.bad.test. 300 IN TXT "v=STSv1; id=1"`,
	}
	var spf strings.Builder
	spf.WriteString("v=spf1")
	for i := range 11 {
		fmt.Fprintf(&spf, " include:i%d.bad.test", i)
		lines = append(lines, fmt.Sprintf(`i%d.bad.test. 300 IN TXT "v=spf1 -all"`, i))
	}
	lines = append(lines, `bad.test. 300 IN TXT "`+spf.String()+` -all"`)
	leaf, _ := x509.ParseCertificate(goodTLS.Certificates[0].Certificate[0])
	spkiHash := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	lines = append(lines, fmt.Sprintf("_25._tcp.mx.good.test. 300 IN TLSA 3 1 1 %x", spkiHash[:]))
	zone, err := testdns.NewZone(lines...)
	if err != nil {
		t.Fatal(err)
	}
	zone.Secure = map[string]bool{"good.test.": true}
	dnsAddr, stop, err := testdns.Start(zone)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	_, dnsPort, _ := net.SplitHostPort(dnsAddr)
	stsAddr := sts.Listener.Addr().String()
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if strings.HasPrefix(addr, "mta-sts.good.test:") {
				return (&net.Dialer{}).DialContext(ctx, network, stsAddr)
			}
			return nil, fmt.Errorf("no route to %s", addr)
		},
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the policy host's certificate is httptest's
	}}
	return &fixture{zone: zone, cfg: Config{DNS: []string{dnsAddr}, AuthPort: dnsPort, Port: port, HELO: "verifier.example.net",
		AllowPrivate: true, DNSBL: []string{"bl.test"}, DKIMSelectors: []string{"sel1"}, HTTP: hc, Roots: roots,
		RelayDomain: "example.net"}}
}

func results(rep *Report) map[string]Result {
	out := map[string]Result{}
	for _, c := range rep.Checks {
		if r, ok := out[c.ID]; !ok || c.Result > r {
			out[c.ID] = c.Result // the worst, when a check runs per host
		}
	}
	return out
}

// TestChecks runs every check against a passing and a failing fixture.
func TestChecks(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	good, err := Run(ctx, "good.test", f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := Run(ctx, "Bad.Test.", f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	g, b := results(good), results(bad)
	for _, tc := range []struct {
		id        string
		good, bad Result
	}{
		{"dns.mx", Info, Pass}, // one MX host (info) / two
		{"dns.mx_host", Info, Warn},
		{"dns.delegation", Pass, Fail},
		{"rdns.ptr", Pass, Fail},
		{"rdns.fcrdns", Pass, Pass},  // bad has no PTR: not asked; see below
		{"smtp.connect", Pass, Fail}, // bad: its IPv6 address takes no connection
		{"smtp.ipv6", Pass, Warn},
		{"smtp.banner", Pass, Warn},
		{"smtp.postmaster", Pass, Pass},
		{"smtp.abuse", Pass, Pass},
		{"smtp.open_relay", Pass, Fail},
		{"smtp.vrfy", Pass, Warn},
		{"tls.starttls", Pass, Fail},
		{"tls.version", Pass, Pass},
		{"tls.old_versions", Pass, Pass},
		{"tls.certificate", Pass, Pass},
		{"auth.spf", Pass, Fail},
		{"auth.dmarc", Pass, Warn},
		{"auth.dkim", Pass, Fail},
		{"mta_sts.record", Pass, Pass},
		{"mta_sts.policy", Pass, Fail},
		{"mta_sts.tls_rpt", Pass, Warn},
		{"blocklist.bl.test", Pass, Fail},
		{"dns.dnssec", Pass, Info},
	} {
		gr, gok := g[tc.id]
		br, bok := b[tc.id]
		if tc.id == "smtp.ipv6" {
			gr, gok = Pass, !gok // reported only when it fails
		}
		if tc.id == "tls.starttls" {
			gr, gok = Pass, !gok // reported only when it fails
		}
		if tc.id == "rdns.fcrdns" {
			br, bok = Pass, !bok
		}
		if tc.id == "tls.version" || tc.id == "tls.old_versions" || tc.id == "tls.certificate" {
			br, bok = Pass, !bok // no TLS on the bad server: not asked
		}
		if !gok || gr != tc.good {
			t.Errorf("good.test %s: %v (%v); want %s", tc.id, gr, gok, tc.good)
		}
		if !bok || br != tc.bad {
			t.Errorf("bad.test %s: %v (%v); want %s", tc.id, br, bok, tc.bad)
		}
	}
	if g["tls.dane"] != Pass {
		t.Errorf("good.test tls.dane: %s; want pass (TLSA 3 1 1 of the key)", g["tls.dane"])
	}
	if _, asked := b["tls.dane"]; asked {
		t.Error("bad.test is not signed: DANE must not be judged")
	}
	if good.Summary.Result == Fail || bad.Summary.Result != Fail || len(bad.Summary.FixFirst) == 0 {
		t.Errorf("summaries: good %+v, bad %+v", good.Summary, bad.Summary)
	}
	if t.Failed() || testing.Verbose() {
		for _, c := range append(good.Checks, bad.Checks...) {
			t.Logf("%s %s %s: %s %v", c.ID, c.Target, c.Result, c.Finding, c.Evidence)
		}
	}
}

func TestMatchesAny(t *testing.T) {
	for _, tc := range []struct {
		host string
		pats []string
		want bool
	}{
		{"mx1.example.com", []string{"*.example.com"}, true},
		{"a.b.example.com", []string{"*.example.com"}, false},
		{"example.com", []string{"*.example.com"}, false},
		{"MX.example.com.", []string{"mx.example.com"}, true},
		{"mx.example.org", []string{"mx.example.com"}, false},
	} {
		if got := matchesAny(tc.host, tc.pats); got != tc.want {
			t.Errorf("matchesAny(%q, %q) = %v", tc.host, tc.pats, got)
		}
	}
}

// TestDANEMismatch: TLSA records that match no certificate presented are
// a fail; the right one passes.
func TestDANEMismatch(t *testing.T) {
	cfgTLS, _ := cert(t, "mx.dane.test", 90)
	leaf, _ := x509.ParseCertificate(cfgTLS.Certificates[0].Certificate[0])
	full := sha256.Sum256(leaf.Raw)
	zone, err := testdns.NewZone(
		"_25._tcp.mx.wrong.test. 300 IN TLSA 3 1 1 "+strings.Repeat("ab", 32),
		fmt.Sprintf("_25._tcp.mx.right.test. 300 IN TLSA 3 0 1 %x", full[:]),
	)
	if err != nil {
		t.Fatal(err)
	}
	addr, stop, err := testdns.Start(zone)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	q, _ := newQuerier([]string{addr})
	st := &tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}}
	for host, want := range map[string]Result{"mx.wrong.test": Fail, "mx.right.test": Pass, "mx.none.test": Info} {
		d := &run{cfg: &Config{}, q: q, rep: &Report{}}
		d.daneCheck(context.Background(), mxHost{name: host}, host, st)
		if got := d.rep.Checks[0].Result; got != want {
			t.Errorf("%s: %s; want %s (%s)", host, got, want, d.rep.Checks[0].Finding)
		}
	}
}

// TestMoreFailingFixtures: the failures the two domains do not show.
func TestMoreFailingFixtures(t *testing.T) {
	f := newFixture(t)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	spki, _ := x509.MarshalPKIXPublicKey(&weak.PublicKey)
	for _, rr := range []string{
		"literal.test. 300 IN MX 10 192.0.2.1.",
		`weak._domainkey.good.test. 300 IN TXT "v=DKIM1; k=rsa; p=` + base64.StdEncoding.EncodeToString(spki) + `"`,
		`nokey._domainkey.good.test. 300 IN TXT "v=DKIM1; k=rsa"`,
		`plusall.test. 300 IN TXT "v=spf1 +all"`,
		`plusall.test. 300 IN MX 0 .`,
	} {
		if err := f.zone.Add(rr); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	for _, tc := range []struct {
		domain, id string
		want       Result
		tweak      func(*Config)
	}{
		{"nowhere.test", "dns.mx", Fail, nil}, // NXDOMAIN
		{"literal.test", "dns.mx_host", Fail, nil},
		{"good.test", "auth.dkim", Warn, func(c *Config) { c.DKIMSelectors = []string{"weak"} }},
		{"good.test", "auth.dkim", Fail, func(c *Config) { c.DKIMSelectors = []string{"nokey"} }},
		{"plusall.test", "auth.spf", Fail, nil},
		{"plusall.test", "dns.mx", Info, nil}, // null MX
	} {
		cfg := f.cfg
		if tc.tweak != nil {
			tc.tweak(&cfg)
		}
		rep, err := Run(ctx, tc.domain, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := results(rep)[tc.id]; got != tc.want {
			t.Errorf("%s %s: %s; want %s", tc.domain, tc.id, got, tc.want)
		}
	}
	if _, err := Run(ctx, "not a domain", f.cfg); err == nil {
		t.Error("a bad domain: no error")
	}
}
