package diagnose

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/dmarc"
	"github.com/miekg/dns"
)

// authChecks: the domain's SPF, DMARC, DKIM (given selectors) and BIMI.
func (d *run) authChecks(ctx context.Context) {
	d.spfCheck(ctx)
	d.dmarcCheck(ctx)
	for _, sel := range d.cfg.DKIMSelectors {
		d.dkimCheck(ctx, sel)
	}
	d.bimiCheck(ctx)
}

// spfResolver answers blitiri's SPF evaluation from the querier and
// counts its DNS lookups.
type spfResolver struct {
	q *querier
	n atomic.Int32
}

func (r *spfResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	r.n.Add(1)
	resp, err := r.q.ask(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	if resp.Rcode == dns.RcodeNameError {
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	var out []string
	for _, rr := range resp.Answer {
		if t, ok := rr.(*dns.TXT); ok {
			out = append(out, strings.Join(t.Txt, ""))
		}
	}
	return out, nil
}

func (r *spfResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	r.n.Add(1)
	resp, err := r.q.ask(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, err
	}
	var out []*net.MX
	for _, rr := range resp.Answer {
		if m, ok := rr.(*dns.MX); ok {
			out = append(out, &net.MX{Host: m.Mx, Pref: m.Preference})
		}
	}
	return out, nil
}

func (r *spfResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	r.n.Add(1)
	var out []net.IPAddr
	for _, ip := range r.q.addrs(ctx, host) {
		out = append(out, net.IPAddr{IP: ip})
	}
	return out, nil
}

func (r *spfResolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	r.n.Add(1)
	name, err := dns.ReverseAddr(addr)
	if err != nil {
		return nil, err
	}
	resp, err := r.q.ask(ctx, name, dns.TypePTR)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range resp.Answer {
		if p, ok := rr.(*dns.PTR); ok {
			out = append(out, p.Ptr)
		}
	}
	return out, nil
}

func (d *run) spfCheck(ctx context.Context) {
	c := Check{ID: "auth.spf", Section: SecAuth}
	txts, err := d.q.txt(ctx, d.domain)
	if err != nil {
		c.Result, c.Finding = Warn, "the TXT question failed: "+err.Error()
		d.rep.add(c)
		return
	}
	var recs []string
	for _, t := range txts {
		if l := strings.ToLower(t); l == "v=spf1" || strings.HasPrefix(l, "v=spf1 ") {
			recs = append(recs, t)
		}
	}
	c.Evidence = recs
	switch len(recs) {
	case 0:
		c.Result, c.Finding = Warn, "no SPF record"
		c.Why, c.Fix = "Receivers cannot tell your servers from forgers; mail from the domain is more often junked.", `Publish "v=spf1 mx -all" (or your senders' includes).`
		d.rep.add(c)
		return
	case 1:
	default:
		c.Result, c.Finding = Fail, fmt.Sprintf("%d SPF records: a permanent error for every receiver", len(recs))
		c.Fix = "Merge them into one record."
		d.rep.add(c)
		return
	}
	all := ""
	for _, term := range strings.Fields(strings.ToLower(recs[0])) {
		if strings.TrimLeft(term, "+-~?") == "all" {
			all = term
		}
	}
	ip := net.ParseIP("192.0.2.1") // evaluated for an outside address
	res := &spfResolver{q: d.q}
	result, err := spf.CheckHostWithSender(ip, "mailverify.invalid", "postmaster@"+d.domain, spf.WithResolver(res), spf.WithContext(ctx))
	lookups := int(res.n.Load()) - 1 // the record's own TXT is not counted
	c.Evidence = append(c.Evidence, fmt.Sprintf("%d DNS lookups to evaluate; result for an outside address: %s", lookups, result))
	switch {
	case errors.Is(err, spf.ErrLookupLimitReached):
		c.Result, c.Finding = Fail, "more than 10 DNS lookups (RFC 7208 section 4.6.4): a permanent error"
		c.Why, c.Fix = "Receivers treat the record as broken and SPF fails for all your mail.", "Flatten includes, or drop senders you no longer use."
	case errors.Is(err, spf.ErrVoidLookupLimitReached):
		c.Result, c.Finding = Fail, "more than 2 lookups that find nothing (void lookups, RFC 7208 section 4.6.4)"
		c.Fix = "Remove includes and names that no longer exist."
	case result == spf.PermError:
		c.Result, c.Finding = Fail, "the record does not parse: "+errString(err)
		c.Fix = "Fix its syntax (RFC 7208)."
	case result == spf.TempError:
		c.Result, c.Finding = Warn, "evaluating the record hit a temporary DNS error: "+errString(err)
	case all == "all" || all == "+all":
		c.Result, c.Finding = Fail, `the record ends in "+all": anyone may send as the domain`
		c.Fix = `End it in "-all" or "~all".`
	case all == "?all":
		c.Result, c.Finding = Warn, `the record ends in "?all": it says nothing about other senders`
		c.Fix = `End it in "-all" or "~all".`
	case all == "":
		c.Result, c.Finding = Warn, `no "all" term: other senders are neutral`
		c.Fix = `End it in "-all" or "~all".`
	default:
		c.Result, c.Finding = Pass, fmt.Sprintf("one record, %d lookups, ends in %q", lookups, all)
	}
	d.rep.add(c)
}

func errString(err error) string {
	if err == nil {
		return "no detail"
	}
	return err.Error()
}

func (d *run) dmarcCheck(ctx context.Context) {
	c := Check{ID: "auth.dmarc", Section: SecAuth}
	txts, err := d.q.txt(ctx, "_dmarc."+d.domain)
	recs := withPrefix(txts, "v=DMARC1")
	c.Evidence = recs
	switch {
	case err != nil:
		c.Result, c.Finding = Warn, "the TXT question failed: "+err.Error()
	case len(recs) == 0:
		c.Result, c.Finding = Warn, "no DMARC record at _dmarc."+d.domain
		c.Why, c.Fix = "Large receivers want DMARC from bulk senders; without it forgers go unreported.", `Start with "v=DMARC1; p=none; rua=mailto:dmarc@`+d.domain+`", then move to quarantine or reject.`
	case len(recs) > 1:
		c.Result, c.Finding = Fail, "more than one DMARC record: receivers ignore them all"
	default:
		rec, perr := dmarc.Parse(recs[0])
		switch {
		case perr != nil:
			c.Result, c.Finding = Fail, "the record does not parse: "+perr.Error()
		case rec.Policy == dmarc.PolicyNone:
			c.Result, c.Finding = Warn, "policy p=none: failures are reported, never acted on"
			c.Fix = "Once the reports show your mail aligned, move to p=quarantine, then p=reject."
		case len(rec.ReportURIAggregate) == 0:
			c.Result, c.Finding = Warn, "policy p="+string(rec.Policy)+" without rua: you get no reports"
			c.Fix = "Add rua=mailto:... to learn who sends as you."
		default:
			c.Result, c.Finding = Pass, fmt.Sprintf("p=%s, reports to %s, alignment DKIM %s / SPF %s", rec.Policy,
				strings.Join(rec.ReportURIAggregate, " "), alignment(rec.DKIMAlignment), alignment(rec.SPFAlignment))
		}
	}
	d.rep.add(c)
}

func alignment(a dmarc.AlignmentMode) string {
	if a == dmarc.AlignmentStrict {
		return "strict"
	}
	return "relaxed"
}

func (d *run) dkimCheck(ctx context.Context, sel string) {
	c := Check{ID: "auth.dkim", Section: SecAuth, Target: sel}
	name := sel + "._domainkey." + d.domain
	txts, err := d.q.txt(ctx, name)
	if err != nil || len(txts) == 0 {
		c.Result, c.Finding = Fail, "no DKIM key at "+name
		c.Fix = "Publish the selector's public key, or check its name with your mail provider."
		d.rep.add(c)
		return
	}
	c.Evidence = txts
	tags := map[string]string{}
	for _, part := range strings.Split(strings.Join(txts, ""), ";") {
		if k, v, ok := strings.Cut(strings.TrimSpace(part), "="); ok {
			tags[strings.TrimSpace(k)] = strings.Join(strings.Fields(v), "")
		}
	}
	p, ok := tags["p"]
	switch {
	case !ok:
		c.Result, c.Finding = Fail, "the record has no p= (public key) tag"
	case p == "":
		c.Result, c.Finding = Info, "the key is revoked (empty p=)"
	default:
		der, err := base64.StdEncoding.DecodeString(p)
		key, kerr := x509.ParsePKIXPublicKey(der)
		if err != nil || kerr != nil {
			if tags["k"] == "ed25519" && err == nil && len(der) == 32 {
				c.Result, c.Finding = Pass, "an Ed25519 key"
				break
			}
			c.Result, c.Finding = Fail, "the public key does not decode"
			break
		}
		if rk, isRSA := key.(*rsa.PublicKey); isRSA {
			bits := rk.N.BitLen()
			c.Result, c.Finding = Pass, fmt.Sprintf("an RSA key of %d bits", bits)
			if bits < 1024 {
				c.Result, c.Finding = Fail, fmt.Sprintf("an RSA key of %d bits: receivers ignore keys under 1024", bits)
			} else if bits < 2048 {
				c.Result, c.Finding = Warn, fmt.Sprintf("an RSA key of %d bits; 2048 is today's minimum", bits)
			}
		} else {
			c.Result, c.Finding = Pass, fmt.Sprintf("a %T key", key)
		}
	}
	d.rep.add(c)
}

func (d *run) bimiCheck(ctx context.Context) {
	c := Check{ID: "auth.bimi", Section: SecAuth, Result: Info}
	txts, _ := d.q.txt(ctx, "default._bimi."+d.domain)
	if recs := withPrefix(txts, "v=BIMI1"); len(recs) > 0 {
		c.Finding, c.Evidence = "a BIMI record is published", recs
	} else {
		c.Finding = "no BIMI record (optional: a logo for receivers that show one, needs DMARC enforcement)"
	}
	d.rep.add(c)
}
