package diagnose

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"

	"blitiri.com.ar/go/spf"
	"github.com/miekg/dns"
)

// defaultHELO is the name smtpprobe.Prober gives when HELO is empty.
func defaultHELO(helo string) string {
	if helo != "" {
		return helo
	}
	if h, err := os.Hostname(); err == nil && strings.Contains(h, ".") && !strings.ContainsAny(h, " \r\n") {
		return h
	}
	return "localhost"
}

// address settles the egress's public address: the one servers state,
// else the configured one, else the local one when it is public.
func (d *doctorRun) address() net.IP {
	c := Check{ID: "identity.address", Section: SecIdentity}
	counts := map[string]int{}
	for _, s := range d.stated {
		counts[s]++
	}
	best := ""
	for s, n := range counts {
		if best == "" || n > counts[best] || n == counts[best] && s < best {
			best = s
		}
	}
	switch {
	case best != "":
		d.info.Address, d.info.Source = best, "stated by a server"
		c.Result, c.Finding = Pass, "the mail servers see "+best
		if len(counts) > 1 {
			c.Result, c.Finding = Warn, fmt.Sprintf("the mail servers see %d different addresses; checking %s", len(counts), best)
			c.Why = "Connections leave through more than one address (a NAT pool, IPv4 and IPv6): each needs the identity below."
		}
		if p := d.egress.PublicIP; p != "" && !net.ParseIP(p).Equal(net.ParseIP(best)) {
			c.Result, c.Finding = Warn, "the mail servers see "+best+", not the configured "+p
			c.Fix = "Correct the configured public address, or the route out."
		}
		c.Evidence = d.stated
	case d.egress.PublicIP != "":
		d.info.Address, d.info.Source = net.ParseIP(d.egress.PublicIP).String(), "configured"
		c.Result, c.Finding = Info, "no server stated the address; checking the configured "+d.info.Address
	case d.local != "" && (d.cfg.AllowPrivate || routable(net.ParseIP(d.local))):
		d.info.Address, d.info.Source = d.local, "local"
		c.Result, c.Finding = Info, "no server stated the address; checking the local "+d.local
	default:
		c.Result, c.Finding = Warn, "could not learn the egress's public address"
		c.Why = "No server stated it, and the local address (if any) is private: the identity and blocklist checks cannot run."
		c.Fix = "Give the public address (--public-ip)."
		if d.local != "" {
			c.Evidence = []string{"local address " + d.local}
		}
	}
	d.add(c)
	return net.ParseIP(d.info.Address)
}

// identityChecks: the address, its PTR and forward confirmation, the
// HELO name, the MAIL FROM domain and its SPF record.
func (d *doctorRun) identityChecks(ctx context.Context) {
	ip := d.address()
	if ip != nil {
		d.reverse(ctx, ip)
	}
	d.heloCheck(ctx, ip)
	d.mailFromChecks(ctx, ip)
}

func (d *doctorRun) ptrs(ctx context.Context, ip net.IP) []string {
	var out []string
	name, _ := dns.ReverseAddr(ip.String())
	if r, err := d.q.ask(ctx, name, dns.TypePTR); err == nil {
		for _, rr := range r.Answer {
			if p, ok := rr.(*dns.PTR); ok {
				out = append(out, strings.ToLower(strings.TrimSuffix(p.Ptr, ".")))
			}
		}
	}
	return out
}

// reverse: a PTR, and a PTR name that resolves back to the address.
func (d *doctorRun) reverse(ctx context.Context, ip net.IP) {
	c := Check{ID: "identity.ptr", Section: SecIdentity, Target: ip.String()}
	ptrs := d.ptrs(ctx, ip)
	if len(ptrs) == 0 {
		c.Result, c.Finding = Fail, "no PTR record for the egress address"
		c.Why = "Gmail, Microsoft and most others refuse or junk sessions from addresses without reverse DNS."
		c.Fix = "Ask whoever runs the address (the hosting provider's panel) to set a PTR to a name of yours, with an A record back."
		d.add(c)
		return
	}
	c.Result, c.Finding, c.Evidence = Pass, "PTR "+strings.Join(ptrs, ", "), ptrs
	d.add(c)
	f := Check{ID: "identity.fcrdns", Section: SecIdentity, Target: ip.String(), Result: Fail,
		Finding: "no PTR name resolves back to the address (no forward-confirmed reverse DNS)",
		Why:     "Receivers trust a PTR only when its name has the address too.",
		Fix:     "Give the PTR name an A (or AAAA) record with this address."}
	for _, p := range ptrs {
		if slices.ContainsFunc(d.q.addrs(ctx, p), ip.Equal) {
			f.Result, f.Finding, f.Why, f.Fix = Pass, p+" resolves back to "+ip.String(), "", ""
			break
		}
	}
	d.add(f)
}

// heloCheck: the HELO name resolves to the address, and is its PTR name.
func (d *doctorRun) heloCheck(ctx context.Context, ip net.IP) {
	helo := strings.ToLower(strings.TrimSuffix(d.info.HELO, "."))
	c := Check{ID: "identity.helo", Section: SecIdentity, Target: helo}
	if !strings.Contains(helo, ".") {
		c.Result, c.Finding = Fail, "the HELO name is not a fully qualified domain name"
		c.Why, c.Fix = "Receivers refuse or score down a HELO like "+helo+" (RFC 5321 section 4.1.1.1 wants the FQDN).", "Set --helo to the egress's PTR name."
		d.add(c)
		return
	}
	if ip == nil {
		c.Result, c.Finding = Info, "not checked against the address, which is unknown"
		d.add(c)
		return
	}
	addrs := d.q.addrs(ctx, helo)
	for _, a := range addrs {
		c.Evidence = append(c.Evidence, helo+" has "+a.String())
	}
	ptrs := d.ptrs(ctx, ip)
	switch {
	case !slices.ContainsFunc(addrs, ip.Equal):
		c.Result, c.Finding = Fail, "the HELO name "+helo+" does not resolve to "+ip.String()
		c.Why = "Receivers compare the HELO name with the connecting address; a mismatch looks like a spam bot."
		c.Fix = "Use the egress's PTR name as HELO, with an A record of " + ip.String() + "."
		if len(ptrs) > 0 {
			c.Fix = "Use " + ptrs[0] + " (the PTR name) as HELO, with an A record of " + ip.String() + "."
		}
	case !slices.Contains(ptrs, helo):
		c.Result, c.Finding = Warn, "the HELO name resolves to the address but is not its PTR name"
		c.Why = "Some receivers want the HELO name, the PTR and the A record to agree."
		c.Fix = "Use the PTR name as HELO, or set the PTR to the HELO name."
	default:
		c.Result, c.Finding = Pass, helo+" is the PTR name and resolves to "+ip.String()
	}
	d.add(c)
}

// mailFromChecks: the MAIL FROM domain takes mail (MX or A, no null MX)
// and its SPF record lets the egress address send.
func (d *doctorRun) mailFromChecks(ctx context.Context, ip net.IP) {
	from := strings.TrimSuffix(strings.TrimPrefix(d.egress.MailFrom, "<"), ">")
	c := Check{ID: "identity.mail_from", Section: SecIdentity, Target: from}
	at := strings.LastIndexByte(from, '@')
	if from == "" || at < 0 || at == len(from)-1 {
		c.Result, c.Finding = Info, "MAIL FROM is the null sender <>: no domain to check; SPF is judged for the HELO name"
		c.Why = "Some servers refuse probes from <>; an address at a domain of yours, with MX and SPF, is accepted more often."
		if from != "" {
			c.Result, c.Finding, c.Fix = Fail, "MAIL FROM "+from+" is not an address", "Set --from to an address at a domain of yours."
		}
		d.add(c)
		d.spfCheck(ctx, ip, d.info.HELO, "postmaster@"+d.info.HELO)
		return
	}
	domain := strings.ToLower(strings.TrimSuffix(from[at+1:], "."))
	r, err := d.q.ask(ctx, domain, dns.TypeMX)
	var mxs []string
	null := false
	if err == nil {
		for _, rr := range r.Answer {
			if m, ok := rr.(*dns.MX); ok {
				mxs = append(mxs, fmt.Sprintf("MX %d %s", m.Preference, m.Mx))
				null = null || m.Mx == "."
			}
		}
	}
	c.Evidence = mxs
	switch {
	case err != nil:
		c.Result, c.Finding = Warn, "the MX question for "+domain+" failed: "+err.Error()
	case null:
		c.Result, c.Finding = Fail, domain+" has a null MX (RFC 7505): it takes no mail"
		c.Why, c.Fix = "Receivers refuse MAIL FROM a domain that cannot take replies.", "Use an address at a domain that receives mail."
	case len(mxs) > 0:
		c.Result, c.Finding = Pass, domain+" has MX records"
	case len(d.q.addrs(ctx, domain)) > 0:
		c.Result, c.Finding = Info, domain+" has no MX but an address (implicit MX)"
	default:
		c.Result, c.Finding = Fail, domain+" has neither MX nor address: it cannot take replies"
		c.Why, c.Fix = "Receivers refuse MAIL FROM a domain they cannot reply to.", "Use an address at a domain that receives mail."
	}
	d.add(c)
	d.spfCheck(ctx, ip, d.info.HELO, from)
}

// spfCheck evaluates the sender's SPF record for the egress address.
func (d *doctorRun) spfCheck(ctx context.Context, ip net.IP, helo, sender string) {
	domain := sender[strings.LastIndexByte(sender, '@')+1:]
	c := Check{ID: "identity.spf", Section: SecIdentity, Target: domain}
	if ip == nil {
		c.Result, c.Finding = Info, "not evaluated: the egress address is unknown"
		d.add(c)
		return
	}
	res := &spfResolver{q: d.q}
	result, err := spf.CheckHostWithSender(ip, helo, sender, spf.WithResolver(res), spf.WithContext(ctx))
	c.Evidence = []string{fmt.Sprintf("check_host(%s, %s): %s", ip, domain, result)}
	if err != nil {
		c.Evidence = append(c.Evidence, err.Error())
	}
	switch result {
	case spf.Pass:
		c.Result, c.Finding = Pass, "SPF of "+domain+" authorizes "+ip.String()
	case spf.Fail, spf.SoftFail:
		c.Result, c.Finding = Fail, fmt.Sprintf("SPF of %s does not authorize %s (%s)", domain, ip, result)
		c.Why = "Receivers refuse or distrust MAIL FROM the domain sent from an address its SPF excludes."
		c.Fix = "Add ip4:" + ip.String() + " (or ip6:) to " + domain + "'s SPF record."
	case spf.None:
		c.Result, c.Finding = Warn, domain+" publishes no SPF record"
		c.Fix = `Publish "v=spf1 ip4:` + ip.String() + ` -all" (with your other senders).`
	case spf.Neutral:
		c.Result, c.Finding = Warn, "SPF of "+domain+" says nothing about "+ip.String()+" (neutral)"
		c.Fix = "Add the egress address to the record."
	case spf.PermError:
		c.Result, c.Finding = Fail, "SPF of "+domain+" is broken (permerror): "+errString(err)
		if errors.Is(err, spf.ErrLookupLimitReached) || errors.Is(err, spf.ErrVoidLookupLimitReached) {
			c.Finding = "SPF of " + domain + " needs more than the 10 lookups (or 2 void ones) RFC 7208 allows"
		}
		c.Fix = "Fix the record (RFC 7208)."
	default:
		c.Result, c.Finding = Warn, fmt.Sprintf("SPF of %s could not be evaluated (%s): %s", domain, result, errString(err))
	}
	d.add(c)
}
