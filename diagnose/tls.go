package diagnose

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/mailverify/mailverify/smtpprobe"
	"github.com/miekg/dns"
)

// tlsChecks: STARTTLS, its version, old versions on offer, the
// certificate, and DANE when the zone is signed.
func (d *run) tlsChecks(ctx context.Context, h mxHost, ip net.IP, s *smtpprobe.Session) {
	target := h.name + " " + ip.String()
	st := s.TLS()
	if st == nil {
		_, offered := s.Extensions()["STARTTLS"]
		c := Check{ID: "tls.starttls", Section: SecTLS, Target: target, Result: Fail, Finding: "no STARTTLS: mail to this server travels in clear text"}
		if offered {
			c.Finding = "STARTTLS is offered but the handshake failed"
		}
		c.Fix = "Enable STARTTLS with a certificate for " + h.name + "."
		d.rep.add(c)
		return
	}
	v := Check{ID: "tls.version", Section: SecTLS, Target: target, Result: Pass,
		Finding: tls.VersionName(st.Version) + " with " + tls.CipherSuiteName(st.CipherSuite)}
	if st.Version < tls.VersionTLS12 {
		v.Result = Fail
		v.Fix = "Offer TLS 1.2 and 1.3."
	}
	d.rep.add(v)
	d.oldVersionsCheck(ctx, h, ip, target)
	d.certificateCheck(h, target, st)
	if d.signed {
		d.daneCheck(ctx, h, target, st)
	}
}

// oldVersionsCheck asks for TLS 1.0 or 1.1 only, on a session of its own.
func (d *run) oldVersionsCheck(ctx context.Context, h mxHost, ip net.IP, target string) {
	p := &smtpprobe.Prober{Dialer: d.cfg.Dialer, HELO: d.cfg.HELO, MailFrom: d.cfg.MailFrom, TLS: smtpprobe.TLSRequired,
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11, InsecureSkipVerify: true}} //nolint:gosec // only the version is looked at
	s, err := p.Open(ctx, h.name, net.JoinHostPort(ip.String(), d.cfg.port()))
	c := Check{ID: "tls.old_versions", Section: SecTLS, Target: target, Result: Pass, Finding: "TLS 1.0 and 1.1 are refused"}
	if err == nil {
		if st := s.TLS(); st != nil {
			c.Result, c.Finding = Warn, "the server still accepts "+tls.VersionName(st.Version)
			c.Why, c.Fix = "Old versions have known weaknesses; RFC 8996 deprecates them.", "Offer TLS 1.2 and 1.3 only."
		}
		s.Close()
	}
	d.rep.add(c)
}

func (d *run) certificateCheck(h mxHost, target string, st *tls.ConnectionState) {
	c := Check{ID: "tls.certificate", Section: SecTLS, Target: target}
	if len(st.PeerCertificates) == 0 {
		c.Result, c.Finding = Fail, "no certificate"
		d.rep.add(c)
		return
	}
	leaf := st.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, cert := range st.PeerCertificates[1:] {
		inter.AddCert(cert)
	}
	c.Evidence = []string{"subject " + leaf.Subject.String(), "names " + strings.Join(leaf.DNSNames, " "),
		"issuer " + leaf.Issuer.String(), "expires " + leaf.NotAfter.UTC().Format(time.RFC3339)}
	now := d.cfg.now()
	left := leaf.NotAfter.Sub(now)
	_, verr := leaf.Verify(x509.VerifyOptions{DNSName: h.name, Intermediates: inter, Roots: d.cfg.Roots, CurrentTime: now})
	switch {
	case left < 0:
		c.Result, c.Finding = Fail, "the certificate expired on "+leaf.NotAfter.UTC().Format(time.DateOnly)
		c.Fix = "Renew it."
	case verr != nil:
		c.Result, c.Finding = Fail, "the certificate does not verify for "+h.name+": "+verr.Error()
		c.Why, c.Fix = "Senders that check (MTA-STS, DANE, strict policies) will not deliver.", "Use a certificate from a public CA that names "+h.name+", with its chain."
	case left < 21*24*time.Hour:
		c.Result, c.Finding = Warn, fmt.Sprintf("the certificate expires in %d days", int(left.Hours()/24))
		c.Fix = "Renew it now; check the automation."
	default:
		c.Result, c.Finding = Pass, fmt.Sprintf("valid for %s for %d more days", h.name, int(left.Hours()/24))
	}
	if c.Result == Pass {
		switch k := leaf.PublicKey.(type) {
		case *rsa.PublicKey:
			if bits := k.N.BitLen(); bits < 2048 {
				c.Result, c.Finding = Warn, fmt.Sprintf("an RSA key of %d bits; 2048 is the minimum", bits)
			}
		case *ecdsa.PublicKey:
		}
	}
	d.rep.add(c)
}

// daneCheck compares the TLSA records of the MX host (RFC 7672) with the
// certificates presented.
func (d *run) daneCheck(ctx context.Context, h mxHost, target string, st *tls.ConnectionState) {
	c := Check{ID: "tls.dane", Section: SecTLS, Target: target}
	r, err := d.q.ask(ctx, "_25._tcp."+h.name, dns.TypeTLSA)
	var recs []*dns.TLSA
	if err == nil {
		for _, rr := range r.Answer {
			if t, ok := rr.(*dns.TLSA); ok {
				recs = append(recs, t)
				c.Evidence = append(c.Evidence, t.String())
			}
		}
	}
	if len(recs) == 0 {
		c.Result, c.Finding = Info, "no TLSA records: DANE does not protect this server"
		d.rep.add(c)
		return
	}
	c.Result, c.Finding = Fail, "no TLSA record matches the certificates presented"
	c.Why, c.Fix = "DANE senders will not deliver to this server.", "Publish TLSA records for the current key before a certificate changes."
	for _, t := range recs {
		for i, cert := range st.PeerCertificates {
			if (t.Usage == 3 && i == 0 || t.Usage == 2 && i > 0) && t.Verify(cert) == nil {
				c.Result, c.Finding, c.Why, c.Fix = Pass, fmt.Sprintf("TLSA %d %d %d matches", t.Usage, t.Selector, t.MatchingType), "", ""
			}
		}
	}
	d.rep.add(c)
}
