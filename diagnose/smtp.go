package diagnose

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/mailverify/mailverify/smtpprobe"
	"github.com/miekg/dns"
)

// serverChecks connects to each address of the first MaxHosts MX hosts.
func (d *run) serverChecks(ctx context.Context) {
	if d.nullMX {
		return
	}
	limit := d.cfg.MaxHosts
	if limit <= 0 {
		limit = 5
	}
	var v6Tried, v6OK, anyOK bool
	for i, h := range d.hosts {
		if i == limit {
			break
		}
		for _, ip := range h.addrs {
			ok := d.serverCheck(ctx, h, ip)
			anyOK = anyOK || ok
			if ip.To4() == nil {
				v6Tried, v6OK = true, v6OK || ok
			}
		}
	}
	if v6Tried && !v6OK && anyOK {
		d.rep.add(Check{ID: "smtp.ipv6", Section: SecSMTP, Result: Warn,
			Finding: "the MX hosts publish IPv6 addresses that take no connections",
			Why:     "Senders on IPv6 try those first and wait for a timeout.", Fix: "Open port 25 on IPv6 or remove the AAAA records."})
	}
}

// serverCheck runs the per-address checks and reports whether the server
// answered.
func (d *run) serverCheck(ctx context.Context, h mxHost, ip net.IP) bool {
	addr := net.JoinHostPort(ip.String(), d.cfg.port())
	target := h.name + " " + ip.String()
	ptrs := d.reverseChecks(ctx, target, ip)
	greet, connectTime, delay, err := d.greeting(ctx, addr)
	c := Check{ID: "smtp.connect", Section: SecSMTP, Target: target}
	if err != nil {
		c.Result, c.Finding = Fail, "no SMTP service: "+err.Error()
		c.Fix = "Open port 25 to the world, and check the server runs."
		d.rep.add(c)
		return false
	}
	c.Result, c.Finding = Pass, fmt.Sprintf("connected in %d ms, greeting after %d ms", connectTime.Milliseconds(), delay.Milliseconds())
	if delay > 10*time.Second {
		c.Result, c.Finding = Warn, c.Finding+": a long greeting delay"
		c.Why = "Some senders give up, and every delivery waits."
	}
	d.rep.add(c)
	d.bannerCheck(target, greet, ptrs)

	var tr strings.Builder
	p := &smtpprobe.Prober{Dialer: d.cfg.Dialer, HELO: d.cfg.HELO, MailFrom: d.cfg.MailFrom, Transcript: &tr, ShowLocalParts: true}
	s, err := p.Open(ctx, h.name, addr)
	if err != nil {
		d.rep.add(Check{ID: "smtp.session", Section: SecSMTP, Target: target, Result: Fail,
			Finding: fmt.Sprintf("the session failed: %s: %v", smtpprobe.OutcomeOf(err), err), Evidence: lines(tr.String())})
		return true
	}
	defer s.Close()
	d.extensionsCheck(target, s)
	d.tlsChecks(ctx, h, ip, s)
	d.recipientChecks(ctx, target, s)
	return true
}

func lines(s string) []string { return strings.Split(strings.TrimRight(s, "\n"), "\n") }

// greeting opens a connection of its own to time the connect and the
// banner, then quits.
func (d *run) greeting(ctx context.Context, addr string) (banner string, connect, delay time.Duration, err error) {
	dialer := d.cfg.Dialer
	if dialer == nil {
		dialer = &net.Dialer{}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	start := time.Now()
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", 0, 0, err
	}
	defer conn.Close()
	connect = time.Since(start)
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	delay = time.Since(start) - connect
	if err != nil {
		return "", connect, delay, fmt.Errorf("no greeting: %w", err)
	}
	_, _ = conn.Write([]byte("QUIT\r\n"))
	return strings.TrimRight(line, "\r\n"), connect, delay, nil
}

// reverseChecks: a PTR for the address, and forward-confirmed.
func (d *run) reverseChecks(ctx context.Context, target string, ip net.IP) []string {
	c := Check{ID: "rdns.ptr", Section: SecReverse, Target: target}
	var ptrs []string
	name, _ := dns.ReverseAddr(ip.String())
	if r, err := d.q.ask(ctx, name, dns.TypePTR); err == nil {
		for _, rr := range r.Answer {
			if p, ok := rr.(*dns.PTR); ok {
				ptrs = append(ptrs, strings.TrimSuffix(p.Ptr, "."))
			}
		}
	}
	if len(ptrs) == 0 {
		c.Result, c.Finding = Fail, "no PTR record for the address"
		c.Why, c.Fix = "Many receivers refuse mail from addresses without reverse DNS.", "Ask whoever runs the address block to set a PTR to the server's name."
		d.rep.add(c)
		return nil
	}
	c.Result, c.Finding, c.Evidence = Pass, "PTR "+strings.Join(ptrs, ", "), ptrs
	d.rep.add(c)
	f := Check{ID: "rdns.fcrdns", Section: SecReverse, Target: target, Result: Fail,
		Finding: "the PTR name does not resolve back to the address (no forward-confirmed reverse DNS)",
		Fix:     "Give the PTR name an A/AAAA record with this address."}
	for _, p := range ptrs {
		if slices.ContainsFunc(d.q.addrs(ctx, p), ip.Equal) {
			f.Result, f.Finding, f.Fix = Pass, p+" resolves back to "+ip.String(), ""
		}
	}
	d.rep.add(f)
	return ptrs
}

// bannerCheck: a 220 greeting that names the host, as its PTR does.
func (d *run) bannerCheck(target, banner string, ptrs []string) {
	c := Check{ID: "smtp.banner", Section: SecSMTP, Target: target, Evidence: []string{banner}}
	fields := strings.Fields(strings.TrimLeft(banner, "0123456789- "))
	name := ""
	if len(fields) > 0 {
		name = strings.TrimSuffix(strings.ToLower(fields[0]), ".")
	}
	switch {
	case !strings.HasPrefix(banner, "220"):
		c.Result, c.Finding = Fail, "the greeting is not 220: the server refuses sessions"
	case name == "" || !strings.Contains(name, "."):
		c.Result, c.Finding = Warn, "the greeting names no host"
		c.Fix = "Start it with the server's fully qualified name (RFC 5321 section 4.2)."
	case len(ptrs) > 0 && !slices.ContainsFunc(ptrs, func(p string) bool { return strings.EqualFold(p, name) }):
		c.Result, c.Finding = Warn, "the greeting names "+name+", the PTR "+strings.Join(ptrs, ", ")
		c.Why, c.Fix = "Receivers that compare them score the mismatch as suspicious.", "Use the PTR name as the server's host name."
	default:
		c.Result, c.Finding = Pass, "220 from "+name
	}
	d.rep.add(c)
}

var wantedExtensions = []string{"STARTTLS", "PIPELINING", "8BITMIME", "SMTPUTF8", "SIZE", "CHUNKING", "ENHANCEDSTATUSCODES"}

func (d *run) extensionsCheck(target string, s *smtpprobe.Session) {
	ext := s.Extensions()
	var have, missing []string
	for _, e := range wantedExtensions {
		if _, ok := ext[e]; ok || e == "STARTTLS" && s.TLS() != nil { // after STARTTLS, EHLO no longer offers it
			have = append(have, e)
		} else {
			missing = append(missing, e)
		}
	}
	c := Check{ID: "smtp.extensions", Section: SecSMTP, Target: target, Result: Pass, Finding: "EHLO offers " + strings.Join(have, " ")}
	if len(missing) > 0 {
		c.Result, c.Finding = Info, c.Finding+"; not "+strings.Join(missing, " ")
	}
	d.rep.add(c)
}

// recipientChecks: postmaster@ and abuse@ take mail, other domains are
// not relayed, VRFY and EXPN say nothing. RCPT only; never DATA.
func (d *run) recipientChecks(ctx context.Context, target string, s *smtpprobe.Session) {
	relayDomain := d.cfg.RelayDomain
	if relayDomain == "" {
		relayDomain = "example.net"
	}
	rs := s.ProbeEach(ctx, "postmaster@"+d.domain, "abuse@"+d.domain, "mailverify-relay-test@"+relayDomain)
	reply := func(r smtpprobe.Result) []string {
		if r.Reply != nil {
			return []string{r.Reply.String()}
		}
		return []string{r.Outcome.String()}
	}
	for i, who := range []string{"postmaster", "abuse"} {
		c := Check{ID: "smtp." + who, Section: SecSMTP, Target: target, Evidence: reply(rs[i])}
		switch {
		case rs[i].Outcome == smtpprobe.Accepted:
			c.Result, c.Finding = Pass, who+"@"+d.domain+" is accepted"
		case who == "postmaster":
			c.Result, c.Finding = Fail, "postmaster@"+d.domain+" is not accepted ("+rs[i].Outcome.String()+")"
			c.Why, c.Fix = "RFC 5321 section 4.5.1 requires it; it is how others reach you about mail problems.", "Create the postmaster alias."
		default:
			c.Result, c.Finding = Warn, "abuse@"+d.domain+" is not accepted ("+rs[i].Outcome.String()+")"
			c.Why, c.Fix = "RFC 2142 names it; blocklist operators and victims write to it.", "Create the abuse alias."
		}
		d.rep.add(c)
	}
	relay := Check{ID: "smtp.open_relay", Section: SecSMTP, Target: target, Evidence: reply(rs[2])}
	switch rs[2].Outcome {
	case smtpprobe.Accepted:
		relay.Result, relay.Finding = Fail, "the server accepts mail for "+relayDomain+": an open relay"
		relay.Why, relay.Fix = "Spammers find open relays within hours, and the server gets blocklisted.", "Relay only for your own domains and authenticated users."
	case smtpprobe.Timeout, smtpprobe.ConnectionFailed, smtpprobe.ProtocolError:
		relay.Result, relay.Finding = Info, "could not test relaying ("+rs[2].Outcome.String()+")"
	default:
		relay.Result, relay.Finding = Pass, "mail for other domains is refused"
	}
	d.rep.add(relay)
	for _, verb := range []string{"VRFY", "EXPN"} {
		c := Check{ID: "smtp." + strings.ToLower(verb), Section: SecSMTP, Target: target}
		r, err := s.Ask(ctx, verb, "postmaster")
		switch {
		case err != nil:
			c.Result, c.Finding = Info, verb+" could not be asked: "+err.Error()
		case r.Code == 250 || r.Code == 251:
			c.Result, c.Finding = Warn, verb+" answers "+fmt.Sprint(r.Code)+": it tells anyone which mailboxes exist"
			c.Fix = "Disable " + verb + " (Postfix: disable_vrfy_command = yes)."
		default:
			c.Result, c.Finding = Pass, fmt.Sprintf("%s is disabled or discloses nothing (%d)", verb, r.Code)
		}
		c.Evidence = []string{r.String()}
		d.rep.add(c)
	}
}
