package diagnose

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// mtaSTSChecks: the MTA-STS record and policy (RFC 8461), and TLS-RPT
// (RFC 8460).
func (d *run) mtaSTSChecks(ctx context.Context) {
	if d.nullMX {
		return
	}
	c := Check{ID: "mta_sts.record", Section: SecMTASTS}
	txts, _ := d.q.txt(ctx, "_mta-sts."+d.domain)
	recs := withPrefix(txts, "v=STSv1")
	c.Evidence = recs
	hasSTS := len(recs) > 0
	switch len(recs) {
	case 0:
		c.Result, c.Finding = Info, "no MTA-STS record: senders may deliver without TLS when an attacker strips it"
		c.Fix = "Publish _mta-sts." + d.domain + ` TXT "v=STSv1; id=..." and a policy at https://mta-sts.` + d.domain + "/.well-known/mta-sts.txt."
	case 1:
		c.Result, c.Finding = Pass, "the record is published"
		if !strings.Contains(strings.ToLower(recs[0]), "id=") {
			c.Result, c.Finding = Fail, "the record has no id="
		}
	default:
		c.Result, c.Finding = Fail, "more than one MTA-STS record: senders ignore them"
	}
	d.rep.add(c)
	if hasSTS {
		d.mtaSTSPolicy(ctx)
	}
	t := Check{ID: "mta_sts.tls_rpt", Section: SecMTASTS}
	txts, _ = d.q.txt(ctx, "_smtp._tls."+d.domain)
	switch rpt := withPrefix(txts, "v=TLSRPTv1"); {
	case len(rpt) == 1 && strings.Contains(strings.ToLower(rpt[0]), "rua="):
		t.Result, t.Finding, t.Evidence = Pass, "TLS reports go to "+strings.TrimSpace(rpt[0][strings.Index(strings.ToLower(rpt[0]), "rua=")+4:]), rpt
	case len(rpt) > 0:
		t.Result, t.Finding, t.Evidence = Fail, "the TLS-RPT record is malformed (one record with rua= wanted)", rpt
	case hasSTS:
		t.Result, t.Finding = Warn, "MTA-STS without TLS-RPT: you will not hear when senders fail"
		t.Fix = "Publish _smtp._tls." + d.domain + ` TXT "v=TLSRPTv1; rua=mailto:tlsrpt@` + d.domain + `".`
	default:
		t.Result, t.Finding = Info, "no TLS-RPT record"
	}
	d.rep.add(t)
}

// stsPolicy is a parsed policy file.
type stsPolicy struct {
	version, mode string
	maxAge        int
	mx            []string
}

func (d *run) mtaSTSPolicy(ctx context.Context) {
	c := Check{ID: "mta_sts.policy", Section: SecMTASTS}
	url := "https://mta-sts." + d.domain + "/.well-known/mta-sts.txt"
	c.Evidence = []string{url}
	pol, err := d.fetchPolicy(ctx, url)
	if err != nil {
		c.Result, c.Finding = Fail, "the policy cannot be fetched: "+err.Error()
		c.Why, c.Fix = "Senders that saw the record treat the domain as broken.", "Serve the policy over HTTPS with a valid certificate for mta-sts."+d.domain+"."
		d.rep.add(c)
		return
	}
	c.Evidence = append(c.Evidence, "mode "+pol.mode, fmt.Sprintf("max_age %d", pol.maxAge), "mx "+strings.Join(pol.mx, " "))
	var unmatched []string
	for _, h := range d.hosts {
		if !matchesAny(h.name, pol.mx) {
			unmatched = append(unmatched, h.name)
		}
	}
	switch {
	case pol.version != "STSv1":
		c.Result, c.Finding = Fail, "the policy's version is not STSv1"
	case pol.mode != "enforce" && pol.mode != "testing" && pol.mode != "none":
		c.Result, c.Finding = Fail, "the policy's mode is "+strconv.Quote(pol.mode)
	case len(pol.mx) == 0:
		c.Result, c.Finding = Fail, "the policy lists no mx patterns"
	case len(unmatched) > 0:
		c.Result, c.Finding = Fail, "MX hosts that match no mx pattern of the policy: "+strings.Join(unmatched, ", ")
		c.Why, c.Fix = "In enforce mode, senders refuse to deliver to them.", "List every MX host (or a wildcard) in the policy."
	case pol.mode == "testing":
		c.Result, c.Finding = Warn, "mode testing: failures are reported, not prevented"
		c.Fix = "Move to enforce once the TLS reports are clean."
	case pol.mode == "none":
		c.Result, c.Finding = Info, "mode none: the policy is withdrawn"
	case pol.maxAge < 86400:
		c.Result, c.Finding = Warn, fmt.Sprintf("max_age %d s is under a day", pol.maxAge)
		c.Fix = "Use at least a week (604800) once stable."
	default:
		c.Result, c.Finding = Pass, fmt.Sprintf("mode enforce, max_age %d, every MX host matches", pol.maxAge)
	}
	d.rep.add(c)
}

func (d *run) fetchPolicy(ctx context.Context, url string) (*stsPolicy, error) {
	hc := d.cfg.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: d.cfg.Roots}, DialContext: d.dialPublic, Proxy: nil}}
	}
	client := *hc
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse } // RFC 8461 section 3.3
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/plain" {
		return nil, fmt.Errorf("Content-Type %q, not text/plain", resp.Header.Get("Content-Type"))
	}
	pol := &stsPolicy{}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 64<<10))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "version":
			pol.version = v
		case "mode":
			pol.mode = v
		case "max_age":
			pol.maxAge, _ = strconv.Atoi(v)
		case "mx":
			pol.mx = append(pol.mx, strings.ToLower(v))
		}
	}
	return pol, sc.Err()
}

// matchesAny applies RFC 8461 section 4.1: a pattern is a host name, or
// "*." and a name, which matches one more label on the left.
func matchesAny(host string, patterns []string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, p := range patterns {
		if rest, ok := strings.CutPrefix(p, "*."); ok {
			if first, tail, found := strings.Cut(host, "."); found && first != "" && tail == rest {
				return true
			}
		} else if p == host {
			return true
		}
	}
	return false
}

// dialPublic connects to a host found through the diagnose's own
// resolvers (not the system's), and only to a public address unless
// AllowPrivate: a domain's records must not send the checker inside the
// network it runs in.
func (d *run) dialPublic(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var last error = fmt.Errorf("%s has no address", host)
	for _, ip := range d.q.addrs(ctx, host) {
		if !d.cfg.AllowPrivate && !routable(ip) {
			last = fmt.Errorf("%s is at %s, not a public address", host, ip)
			continue
		}
		c, err := (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}
