//go:build integration

package diagnose

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestAgainstRealServers diagnoses two domains served by NSD and Postfix
// in the integration namespace (integration/harness.sh): diag.it.test set
// up right, diagbad.it.test wrong (an open relay without STARTTLS or PTR,
// SPF over the lookup limit, DMARC p=none, on a DNS blocklist), and
// diagold.it.test on a Postfix that still offers TLS 1.0 and 1.1.
func TestAgainstRealServers(t *testing.T) {
	dnsAddr, dir := os.Getenv("MAILVERIFY_IT_DNS"), os.Getenv("MAILVERIFY_IT_DIR")
	if dnsAddr == "" || dir == "" {
		t.Skip("run through integration/harness.sh test")
	}
	roots := x509.NewCertPool()
	pemBytes, err := os.ReadFile(filepath.Join(dir, "tls.crt"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(pemBytes)
	postfixCert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	roots.AddCert(postfixCert)
	// The MTA-STS policy, over HTTPS with a certificate of a test CA.
	stsTLS, _ := cert(t, "mta-sts.diag.it.test", 90)
	stsCert, _ := x509.ParseCertificate(stsTLS.Certificates[0].Certificate[0])
	roots.AddCert(stsCert)
	ln, err := net.Listen("tcp", "127.0.0.54:443")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "version: STSv1\nmode: enforce\nmx: mx-tls.it.test\nmax_age: 604800\n")
	}), TLSConfig: stsTLS, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	defer srv.Close()

	cfg := Config{DNS: []string{dnsAddr}, HELO: "verifier.it.test", AllowPrivate: true, Roots: roots,
		DNSBL: []string{"bl.it.test"}, RelayDomain: "example.net"}
	ctx := context.Background()
	good, err := Run(ctx, "diag.it.test", cfg)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := Run(ctx, "diagbad.it.test", cfg)
	if err != nil {
		t.Fatal(err)
	}
	g, b := results(good), results(bad)
	for _, tc := range []struct {
		id        string
		good, bad Result
	}{
		{"rdns.ptr", Pass, Fail},
		{"smtp.open_relay", Pass, Fail},
		{"smtp.postmaster", Fail, Pass}, // Postfix relays nothing for diag.it.test; the open relay takes all
		{"auth.spf", Pass, Fail},
		{"auth.dmarc", Pass, Warn},
		{"blocklist.bl.it.test", Pass, Fail},
		{"dns.delegation", Warn, Warn}, // one name server
	} {
		if g[tc.id] != tc.good || b[tc.id] != tc.bad {
			t.Errorf("%s: diag %s, diagbad %s; want %s and %s", tc.id, g[tc.id], b[tc.id], tc.good, tc.bad)
		}
	}
	for id, want := range map[string]Result{"tls.version": Pass, "tls.certificate": Pass, "tls.old_versions": Pass,
		"rdns.fcrdns": Pass, "mta_sts.record": Pass, "mta_sts.policy": Pass, "mta_sts.tls_rpt": Pass} {
		if g[id] != want {
			t.Errorf("diag %s: %s; want %s", id, g[id], want)
		}
	}
	// Postfix's default still offers TLS 1.0 and 1.1 (the mailbox listener).
	old, err := Run(ctx, "diagold.it.test", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r := results(old)["tls.old_versions"]; r != Warn {
		t.Errorf("diagold tls.old_versions: %s; want warn", r)
	}
	// A Postfix whose certificate names another host.
	wrong, err := Run(ctx, "diagcert.it.test", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r := results(wrong)["tls.certificate"]; r != Fail {
		t.Errorf("diagcert tls.certificate: %s; want fail", r)
	}
	// A signed zone, through a validating resolver (unbound): DNSSEC and
	// DANE against the Postfix certificate, a matching and a wrong TLSA.
	scfg := cfg
	scfg.DNS = []string{os.Getenv("MAILVERIFY_IT_VALIDATING_DNS")}
	sec, err := Run(ctx, "sec.test", scfg)
	if err != nil {
		t.Fatal(err)
	}
	badsec, err := Run(ctx, "bad.sec.test", scfg)
	if err != nil {
		t.Fatal(err)
	}
	s, bs := results(sec), results(badsec)
	_, daneRan := s["tls.dane"]
	if s["dns.dnssec"] != Pass || !daneRan || s["tls.dane"] != Pass || bs["tls.dane"] != Fail {
		t.Errorf("signed: sec.test dnssec %s dane %s, bad.sec.test dane %s; want pass, pass, fail", s["dns.dnssec"], s["tls.dane"], bs["tls.dane"])
		for _, c := range append(sec.Checks, badsec.Checks...) {
			t.Logf("%s %s %s: %s %v", c.ID, c.Target, c.Result, c.Finding, c.Evidence)
		}
	}
	if b["tls.starttls"] != Fail {
		t.Errorf("diagbad tls.starttls: %s; want fail (no STARTTLS)", b["tls.starttls"])
	}
	if t.Failed() {
		for _, c := range append(good.Checks, bad.Checks...) {
			t.Logf("%s %s %s: %s %v", c.ID, c.Target, c.Result, c.Finding, c.Evidence)
		}
	}
}
