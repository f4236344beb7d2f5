package diagnose

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// A doctorTarget is one mail server to connect to.
type doctorTarget struct {
	name string // host name, or the provider domain when it did not resolve
	addr string // "ip:port"; "" when it did not resolve
	why  string // why it did not resolve
}

// resolveTargets finds the first MX host of each provider and the
// address of each named server.
func resolveTargets(ctx context.Context, q *querier, cfg *DoctorConfig) []doctorTarget {
	port := "25"
	if cfg.Port > 0 {
		port = strconv.Itoa(cfg.Port)
	}
	providers := cfg.Providers
	if providers == nil {
		providers = DefaultDoctorProviders
	}
	var out []doctorTarget
	for _, p := range providers {
		host, why := firstMX(ctx, q, p)
		if host == "" {
			out = append(out, doctorTarget{name: p, why: why})
			continue
		}
		out = append(out, hostTarget(ctx, q, cfg, host, port))
	}
	for _, s := range cfg.Servers {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		host, p, err := net.SplitHostPort(s)
		if err != nil {
			host, p = strings.Trim(s, "[]"), port
		}
		if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > 65535 {
			out = append(out, doctorTarget{name: s, why: "not a port: " + p})
			continue
		}
		out = append(out, hostTarget(ctx, q, cfg, host, p))
	}
	return out
}

func firstMX(ctx context.Context, q *querier, domain string) (string, string) {
	r, err := q.ask(ctx, domain, dns.TypeMX)
	if err != nil {
		return "", "the MX question failed: " + err.Error()
	}
	best, pref := "", uint16(0)
	for _, rr := range r.Answer {
		if m, ok := rr.(*dns.MX); ok && m.Mx != "." && (best == "" || m.Preference < pref) {
			best, pref = strings.TrimSuffix(m.Mx, "."), m.Preference
		}
	}
	if best == "" {
		return "", "no MX host (" + dns.RcodeToString[r.Rcode] + ")"
	}
	return best, ""
}

func hostTarget(ctx context.Context, q *querier, cfg *DoctorConfig, host, port string) doctorTarget {
	t := doctorTarget{name: host}
	addrs := []net.IP{net.ParseIP(host)}
	if addrs[0] == nil {
		addrs = q.addrs(ctx, host)
	}
	for _, ip := range addrs {
		if cfg.AllowPrivate || routable(ip) {
			t.addr = net.JoinHostPort(ip.String(), port)
			return t
		}
	}
	t.why = "no public address"
	if len(addrs) == 0 {
		t.why = "no address"
	}
	return t
}

// A greeting is what one mail server said to the egress.
type greeting struct {
	target   doctorTarget
	code     int      // of the greeting; 0 when none came
	text     []string // the greeting's lines
	ehlo     []string // the EHLO reply's lines
	err      error
	duration time.Duration
}

// timedOut tells a connection that got no answer (dropped packets) from
// one that was refused or broke.
func (g *greeting) timedOut() bool {
	var ne net.Error
	return errors.Is(g.err, context.DeadlineExceeded) || errors.Is(g.err, os.ErrDeadlineExceeded) ||
		errors.As(g.err, &ne) && ne.Timeout()
}

// converse connects, reads the greeting, says EHLO and QUIT.
func (d *doctorRun) converse(ctx context.Context, t doctorTarget) greeting {
	g := greeting{target: t}
	ctx, cancel := context.WithTimeout(ctx, d.timeout())
	defer cancel()
	start := time.Now()
	conn, err := d.dialer.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		g.err, g.duration = err, time.Since(start)
		return g
	}
	defer conn.Close()
	if a, ok := conn.LocalAddr().(*net.TCPAddr); ok && d.egress.SOCKS5 == "" && d.egress.Dialer == nil {
		d.noteLocal(a.IP.String())
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	br := bufio.NewReader(io.LimitReader(conn, 1<<16)) // a hostile server's endless line ends here
	g.code, g.text, g.err = readReply(br)
	g.duration = time.Since(start)
	if g.err != nil {
		g.err = fmt.Errorf("no greeting: %w", g.err)
		return g
	}
	if g.code == 220 {
		fmt.Fprintf(conn, "EHLO %s\r\n", d.info.HELO)
		_, g.ehlo, _ = readReply(br)
	}
	fmt.Fprint(conn, "QUIT\r\n")
	_, _, _ = readReply(br)
	return g
}

func (d *doctorRun) noteLocal(ip string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.local = ip
}

// readReply reads one SMTP reply, up to 100 lines of up to 1000 bytes.
func readReply(br *bufio.Reader) (int, []string, error) {
	var lines []string
	for len(lines) < 100 {
		line, err := br.ReadString('\n')
		if err != nil {
			return 0, lines, err
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) > 1000 {
			line = line[:1000]
		}
		if len(line) < 3 {
			return 0, lines, fmt.Errorf("not an SMTP reply: %q", line)
		}
		code, err := strconv.Atoi(line[:3])
		if err != nil {
			return 0, lines, fmt.Errorf("not an SMTP reply: %q", line)
		}
		lines = append(lines, line)
		if len(line) == 3 || line[3] != '-' {
			return code, lines, nil
		}
	}
	return 0, lines, errors.New("an endless reply")
}

// port25Checks connects to every target at once and judges the whole.
func (d *doctorRun) port25Checks(ctx context.Context, targets []doctorTarget) {
	gs := make([]greeting, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		if t.addr == "" {
			gs[i] = greeting{target: t}
			continue
		}
		wg.Go(func() { gs[i] = d.converse(ctx, t) })
	}
	wg.Wait()
	var answered, refused, silent, tried int
	var refusals []string
	for _, g := range gs {
		c := Check{ID: "port25.server", Section: SecPort25, Target: g.target.name}
		switch {
		case g.target.addr == "":
			c.Result, c.Finding = Info, "not tried: "+g.target.why
			d.add(c)
			continue
		case g.err != nil && g.timedOut():
			silent++
			c.Result, c.Finding = Warn, fmt.Sprintf("no answer within %s: %v", g.duration.Round(time.Millisecond), g.err)
		case g.err != nil && errors.Is(g.err, syscall.ECONNREFUSED):
			c.Result, c.Finding = Warn, "the connection was refused (nothing listens, or a firewall rejects it)"
		case g.err != nil:
			c.Result, c.Finding = Warn, "the connection failed: "+g.err.Error()
		case g.code == 220:
			answered++
			c.Result, c.Finding = Pass, fmt.Sprintf("220 greeting after %d ms", g.duration.Milliseconds())
			d.stated = append(d.stated, statedAddrs(g.ehlo)...)
		case g.code >= 500:
			refused++
			refusals = append(refusals, g.target.name+": "+strings.Join(g.text, " "))
			c.Result, c.Finding = Fail, "refused by the server: "+strings.Join(g.text, " ")
			c.Why = "The server refuses sessions from this egress, usually for its address's reputation or missing reverse DNS."
			c.Fix = "Read the reply's text and the reputation and identity sections; use the server's delisting page or another egress."
		default:
			c.Result, c.Finding = Warn, "the greeting is not 220: "+strings.Join(g.text, " ")
		}
		tried++
		c.Target += " " + g.target.addr
		c.Evidence = append(slices.Clone(g.text), g.ehlo...)
		d.add(c)
	}
	d.outboundCheck(ctx, tried, answered, refused, silent, refusals)
}

// outboundCheck says whether port 25 works, and when not, whether the
// network or the servers stop it.
func (d *doctorRun) outboundCheck(ctx context.Context, tried, answered, refused, silent int, refusals []string) {
	c := Check{ID: "port25.outbound", Section: SecPort25}
	switch {
	case tried == 0:
		c.Result, c.Finding = Warn, "no mail server to try: none of the providers' MX hosts resolved"
		c.Fix = "Check the resolvers, or name servers with --server."
	case answered == tried:
		c.Result, c.Finding = Pass, fmt.Sprintf("all %d mail servers answered on port 25", tried)
	case answered > 0:
		c.Result, c.Finding = Warn, fmt.Sprintf("%d of %d mail servers answered on port 25", answered, tried)
		c.Why = "Servers that do not answer this egress cannot be verified through it."
	case refused > 0:
		c.Result, c.Finding = Fail, fmt.Sprintf("refused by the servers: %d of %d greeted with a refusal", refused, tried)
		c.Why = "The network lets port 25 through, but the servers refuse this egress."
		c.Fix = "Their replies say why (often a blocklist or an address range they do not take mail from); fix that or use another egress."
		c.Evidence = refusals
	default:
		open := d.controls(ctx)
		if len(open) > 0 {
			c.Result, c.Finding = Fail, "blocked by the network: port 25 gets no answer anywhere while other ports do"
			c.Why = "Cloud and residential networks block outbound port 25 by default; no probe can reach a mail server."
			c.Fix = "Ask the provider to open outbound port 25 for this machine, or probe through an egress where it is open (--socks5)."
			c.Evidence = open
		} else {
			c.Result, c.Finding = Fail, "no connection at all: neither port 25 nor the control ports answered"
			c.Why = "The machine seems to have no way out, or the egress (proxy, local address) does not work."
			c.Fix = "Check the network, the proxy and the local address."
		}
		if silent < tried {
			c.Finding += fmt.Sprintf(" (%d of %d timed out, the others failed at once)", silent, tried)
		}
	}
	d.add(c)
}

// controls tries the control ports and returns those that answered.
func (d *doctorRun) controls(ctx context.Context) []string {
	list := d.cfg.Controls
	if list == nil {
		list = DefaultDoctorControls
	}
	open := make([]string, len(list))
	var wg sync.WaitGroup
	for i, hp := range list {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, d.timeout())
			defer cancel()
			if conn, err := d.dialer.DialContext(cctx, "tcp", hp); err == nil {
				conn.Close()
				open[i] = hp + " answered"
			}
		})
	}
	wg.Wait()
	return slices.DeleteFunc(open, func(s string) bool { return s == "" })
}

// statedRE finds an address literal in an EHLO reply: "Hello [192.0.2.7]",
// "at your service, [192.0.2.7]".
var statedRE = regexp.MustCompile(`\[(?:IPv6:)?([0-9A-Fa-f:.]+)\]`)

func statedAddrs(lines []string) []string {
	var out []string
	for _, l := range lines {
		for _, m := range statedRE.FindAllStringSubmatch(l, -1) {
			if ip := net.ParseIP(m[1]); ip != nil {
				out = append(out, ip.String())
			}
		}
	}
	return out
}
