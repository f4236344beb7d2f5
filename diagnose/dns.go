package diagnose

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/mailverify/mailverify/mx"
	"github.com/miekg/dns"
)

// dnsChecks: MX records and their hosts, the delegation, DNSSEC.
func (d *run) dnsChecks(ctx context.Context) {
	d.mxCheck(ctx)
	d.delegationCheck(ctx)
	d.dnssecCheck(ctx)
}

func (d *run) mxCheck(ctx context.Context) {
	c := Check{ID: "dns.mx", Section: SecDNS}
	r, err := d.q.ask(ctx, d.domain, dns.TypeMX)
	if err != nil {
		c.Result, c.Finding, c.Fix = Fail, "the MX question got no answer: "+err.Error(), "Make the domain's name servers answer."
		d.rep.add(c)
		return
	}
	if r.Rcode == dns.RcodeNameError {
		c.Result, c.Finding, c.Fix = Fail, "the domain does not exist (NXDOMAIN)", "Register or delegate the domain."
		d.rep.add(c)
		return
	}
	var mxs []*dns.MX
	for _, rr := range r.Answer {
		if m, ok := rr.(*dns.MX); ok {
			mxs = append(mxs, m)
			c.Evidence = append(c.Evidence, fmt.Sprintf("MX %d %s", m.Preference, m.Mx))
		}
	}
	sort.SliceStable(mxs, func(i, j int) bool { return mxs[i].Preference < mxs[j].Preference })
	switch {
	case len(mxs) == 1 && (mxs[0].Mx == "." || mxs[0].Mx == ""):
		d.nullMX = true
		c.Result, c.Finding = Info, "null MX (RFC 7505): the domain accepts no mail"
		c.Why = "Senders give up at once; fine for a domain that sends only, wrong for one that should receive."
	case len(mxs) == 0:
		addrs := d.q.addrs(ctx, d.domain)
		if len(addrs) == 0 {
			c.Result, c.Finding = Fail, "no MX records and no address: the domain receives no mail"
			c.Fix = "Publish MX records for the servers that take the domain's mail, or \"MX 0 .\" to say it takes none."
			break
		}
		c.Result, c.Finding = Warn, "no MX records: senders fall back to the domain's own address (implicit MX)"
		c.Why, c.Fix = "Many receivers and filters treat a domain without MX as not taking mail.", "Publish MX records."
		d.hosts = append(d.hosts, mxHost{name: d.domain, addrs: addrs})
	default:
		c.Result, c.Finding = Pass, fmt.Sprintf("%d MX record(s)", len(mxs))
		if len(mxs) == 1 {
			c.Result, c.Finding = Info, "one MX host: no other takes mail while it is down"
		}
		for _, m := range mxs {
			d.hostCheck(ctx, m)
		}
	}
	d.rep.add(c)
}

// hostCheck looks at one MX target: a name (not an address or a CNAME)
// with public addresses.
func (d *run) hostCheck(ctx context.Context, m *dns.MX) {
	name := strings.TrimSuffix(m.Mx, ".")
	c := Check{ID: "dns.mx_host", Section: SecDNS, Target: name}
	if _, err := netip.ParseAddr(name); err == nil {
		c.Result, c.Finding = Fail, "the MX target is an IP address, not a host name"
		c.Why, c.Fix = "RFC 5321 section 5.1 wants a name; many senders ignore such an MX.", "Point the MX at a host name with an A record."
		d.rep.add(c)
		return
	}
	if r, err := d.q.ask(ctx, name, dns.TypeCNAME); err == nil {
		for _, rr := range r.Answer {
			if cn, ok := rr.(*dns.CNAME); ok {
				c.Result, c.Finding = Warn, "the MX target is an alias (CNAME to "+strings.TrimSuffix(cn.Target, ".")+")"
				c.Why, c.Fix = "RFC 2181 section 10.3 forbids it; some senders refuse such an MX.", "Point the MX at the canonical name."
				c.Evidence = []string{cn.String()}
			}
		}
	}
	addrs := d.q.addrs(ctx, name)
	h := mxHost{name: name, pref: m.Preference}
	var v4, v6, private int
	for _, a := range addrs {
		c.Evidence = append(c.Evidence, a.String())
		if !routable(a) {
			private++
			if !d.cfg.AllowPrivate {
				continue
			}
		}
		if a.To4() != nil {
			v4++
		} else {
			v6++
		}
		h.addrs = append(h.addrs, a)
	}
	switch {
	case len(addrs) == 0:
		c.Result, c.Finding, c.Fix = Fail, "the MX host has no address", "Give "+name+" A (and AAAA) records."
	case private > 0 && !d.cfg.AllowPrivate:
		c.Result, c.Finding = Fail, fmt.Sprintf("%d of its addresses are private or reserved", private)
		c.Why, c.Fix = "Nobody outside your network can deliver there.", "Publish the public addresses."
	case c.Result == Pass:
		c.Finding = fmt.Sprintf("%d IPv4 and %d IPv6 address(es)", v4, v6)
		if v6 == 0 {
			c.Result = Info
			c.Finding += "; no IPv6"
		}
	}
	d.hosts = append(d.hosts, h)
	d.rep.add(c)
}

// delegationCheck asks every authoritative server for the zone's SOA:
// each must answer authoritatively, and their serials should agree.
func (d *run) delegationCheck(ctx context.Context) {
	c := Check{ID: "dns.delegation", Section: SecDNS}
	zone, nss := d.zoneNS(ctx)
	if len(nss) == 0 {
		c.Result, c.Finding = Warn, "could not find the zone's name servers"
		d.rep.add(c)
		return
	}
	port := d.cfg.AuthPort
	if port == "" {
		port = "53"
	}
	serials := map[uint32][]string{}
	var lame []string
	for _, ns := range nss {
		ips := d.q.addrs(ctx, ns)
		if !d.cfg.AllowPrivate {
			ips = slices.DeleteFunc(ips, func(ip net.IP) bool { return !routable(ip) })
		}
		if len(ips) == 0 {
			lame = append(lame, ns+" (no address)")
			continue
		}
		r, err := d.q.askAt(ctx, net.JoinHostPort(ips[0].String(), port), zone, dns.TypeSOA, false)
		switch {
		case err != nil:
			lame = append(lame, ns+" ("+err.Error()+")")
		case !r.Authoritative || r.Rcode != dns.RcodeSuccess:
			lame = append(lame, fmt.Sprintf("%s (%s, authoritative %v)", ns, dns.RcodeToString[r.Rcode], r.Authoritative))
		default:
			for _, rr := range r.Answer {
				if soa, ok := rr.(*dns.SOA); ok {
					serials[soa.Serial] = append(serials[soa.Serial], ns)
					c.Evidence = append(c.Evidence, fmt.Sprintf("%s: serial %d", ns, soa.Serial))
				}
			}
		}
	}
	switch {
	case len(lame) > 0:
		c.Result, c.Finding = Fail, "lame delegation: "+strings.Join(lame, ", ")
		c.Why, c.Fix = "Resolvers that pick a lame server fail or time out, and mail is deferred.", "Make every listed name server serve the zone, or remove it from the delegation."
	case len(serials) > 1:
		c.Result, c.Finding = Warn, fmt.Sprintf("the name servers disagree: %d different SOA serials", len(serials))
		c.Why, c.Fix = "Some resolvers see old records.", "Check zone transfers to the secondaries."
	case len(nss) < 2:
		c.Result, c.Finding = Warn, "only one name server"
		c.Why, c.Fix = "When it is down, the domain does not resolve.", "Add a second name server on another network."
	default:
		c.Result, c.Finding = Pass, fmt.Sprintf("%d name servers answer for %s and agree", len(nss), zone)
	}
	d.rep.add(c)
}

// zoneNS finds the zone the domain is in and its name servers.
func (d *run) zoneNS(ctx context.Context) (string, []string) {
	labels := dns.SplitDomainName(d.domain)
	for i := range labels {
		zone := strings.Join(labels[i:], ".")
		r, err := d.q.ask(ctx, zone, dns.TypeNS)
		if err != nil {
			continue
		}
		var nss []string
		for _, rr := range r.Answer {
			if ns, ok := rr.(*dns.NS); ok {
				nss = append(nss, strings.TrimSuffix(ns.Ns, "."))
			}
		}
		if len(nss) > 0 {
			slices.Sort(nss)
			return zone, nss
		}
	}
	return "", nil
}

// dnssecCheck: a validating resolver sets AD on the zone's answers; a DS
// at the parent without it is a broken chain.
func (d *run) dnssecCheck(ctx context.Context) {
	c := Check{ID: "dns.dnssec", Section: SecDNS}
	r, err := d.q.ask(ctx, d.domain, dns.TypeSOA)
	ds, derr := d.q.ask(ctx, d.domain, dns.TypeDS)
	hasDS := derr == nil && slices.ContainsFunc(ds.Answer, func(rr dns.RR) bool { _, ok := rr.(*dns.DS); return ok })
	switch {
	case err == nil && r.AuthenticatedData:
		d.signed = true
		c.Result, c.Finding = Pass, "signed, and the resolver validated it (AD)"
	case err == nil && r.Rcode == dns.RcodeServerFailure && hasDS:
		c.Result, c.Finding = Fail, "a DS record is published but the zone does not validate (SERVFAIL)"
		c.Why, c.Fix = "Validating resolvers cannot resolve the domain at all.", "Fix the signatures, or remove the DS record at the registrar."
	case hasDS:
		c.Result, c.Finding = Info, "a DS record is published, but this resolver does not validate: use a validating one to judge"
	default:
		c.Result, c.Finding = Info, "not signed (no DS record)"
		c.Why = "Without DNSSEC, DANE cannot protect the mail servers' TLS."
	}
	d.rep.add(c)
}

// routable applies the SSRF guard of package mx.
func routable(ip net.IP) bool {
	ap, ok := netip.AddrFromSlice(ip)
	return ok && mx.Routable(ap.Unmap())
}
