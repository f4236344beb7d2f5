package diagnose

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testdns"
	"github.com/mailverify/mailverify/internal/testsmtp"
)

// fakeNet is the network one egress sees: the addresses of servers get
// a session with them, those in open connect and nothing more, and every
// other address drops the packets (the dial waits for its deadline).
type fakeNet struct {
	servers map[string]*testsmtp.Server
	open    map[string]bool
}

func (f *fakeNet) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if s := f.servers[addr]; s != nil {
		return s.DialContext(ctx, network, addr)
	}
	if f.open[addr] {
		c, s := net.Pipe()
		s.Close()
		return c, nil
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// stating is a mail server whose EHLO reply states the client's address.
func stating(t *testing.T, name, addr string) *testsmtp.Server {
	s := &testsmtp.Server{Banner: testsmtp.Reply{Code: 220, Lines: []string{name + " ESMTP"}},
		Handlers: map[string]testsmtp.Handler{"EHLO": func(*testsmtp.Conn, testsmtp.Command) testsmtp.Reply {
			return testsmtp.Reply{Code: 250, Lines: []string{name + " Hello [" + addr + "]", "PIPELINING"}}
		}}}
	t.Cleanup(s.Close)
	return s
}

func refusing(t *testing.T, text string) *testsmtp.Server {
	s := &testsmtp.Server{Banner: testsmtp.Reply{Code: 554, Enhanced: "5.7.1", Lines: []string{text}}}
	t.Cleanup(s.Close)
	return s
}

// doctorFixture: two providers (mx.p1.test at 127.0.0.1, mx.p2.test at
// 127.0.0.2) and the DNS of a good egress (192.0.2.7, out.good.test) and
// of bad ones.
func doctorFixture(t *testing.T) DoctorConfig {
	t.Helper()
	zone, err := testdns.NewZone(
		"p1.test. 300 IN MX 10 mx.p1.test.",
		"mx.p1.test. 300 IN A 127.0.0.1",
		"p2.test. 300 IN MX 10 mx.p2.test.",
		"mx.p2.test. 300 IN A 127.0.0.2",
		"7.2.0.192.in-addr.arpa. 300 IN PTR out.good.test.",
		"out.good.test. 300 IN A 192.0.2.7",
		"good.test. 300 IN MX 10 mx.good.test.",
		`good.test. 300 IN TXT "v=spf1 ip4:192.0.2.0/28 -all"`,
		"8.2.0.192.in-addr.arpa. 300 IN PTR nowhere.bad.test.", // no A: not forward-confirmed
		"other.good.test. 300 IN A 192.0.2.8",
		"nullmx.test. 300 IN MX 0 .",
		`nullmx.test. 300 IN TXT "v=spf1 -all"`,
		"2.0.0.127.bl.test. 300 IN A 127.0.0.2",
		"9.2.0.192.bl.test. 300 IN A 127.0.0.2",
	)
	if err != nil {
		t.Fatal(err)
	}
	addr, stop, err := testdns.Start(zone)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return DoctorConfig{DNS: []string{addr}, Providers: []string{"p1.test", "p2.test"}, Controls: []string{"web.test:443"},
		DNSBL: []string{"bl.test"}, Timeout: 300 * time.Millisecond, AllowPrivate: true}
}

func doctorResults(rep *DoctorReport, egress string) map[string]Result {
	out := map[string]Result{}
	for _, c := range rep.Checks {
		if c.Egress != egress {
			continue
		}
		if r, ok := out[c.ID]; !ok || c.Result > r {
			out[c.ID] = c.Result
		}
	}
	return out
}

// TestDoctorChecks runs every check for a good egress and for bad ones.
func TestDoctorChecks(t *testing.T) {
	cfg := doctorFixture(t)
	good := &fakeNet{servers: map[string]*testsmtp.Server{
		"127.0.0.1:25": stating(t, "mx.p1.test", "192.0.2.7"), "127.0.0.2:25": stating(t, "mx.p2.test", "192.0.2.7")}}
	refused := &fakeNet{servers: map[string]*testsmtp.Server{
		"127.0.0.1:25": refusing(t, "Service unavailable; client host [192.0.2.9] blocked using bl.test")}}
	blocked := &fakeNet{open: map[string]bool{"web.test:443": true}}
	cut := &fakeNet{}
	cfg.Egresses = []Egress{
		{Name: "good", Dialer: good, HELO: "out.good.test", MailFrom: "probe@good.test"},
		{Name: "refused", Dialer: refused, HELO: "helo.bad.test", MailFrom: "probe@nullmx.test", PublicIP: "192.0.2.9"},
		{Name: "blocked", Dialer: blocked, HELO: "other.good.test", MailFrom: "probe@nowhere.test", PublicIP: "192.0.2.8"},
		{Name: "cut", Dialer: cut, HELO: "localhost", MailFrom: "<>"},
	}
	rep, err := Doctor(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]Result{
		"good": {"port25.server": Pass, "port25.outbound": Pass, "identity.address": Pass, "identity.ptr": Pass,
			"identity.fcrdns": Pass, "identity.helo": Pass, "identity.mail_from": Pass, "identity.spf": Pass,
			"blocklist.bl.test": Pass, "evidence.recent": Info},
		"refused": {"port25.server": Fail, "port25.outbound": Fail, "identity.address": Info, "identity.ptr": Fail,
			"identity.helo": Fail, "identity.mail_from": Fail, "identity.spf": Fail, "blocklist.bl.test": Fail},
		"blocked": {"port25.outbound": Fail, "identity.ptr": Pass, "identity.fcrdns": Fail, "identity.helo": Warn,
			"identity.mail_from": Fail, "identity.spf": Warn, "blocklist.bl.test": Pass},
		"cut": {"port25.outbound": Fail, "identity.address": Warn, "identity.helo": Fail, "identity.mail_from": Info,
			"blocklist": Info},
	}
	for egress, checks := range want {
		got := doctorResults(rep, egress)
		for id, w := range checks {
			if r, ok := got[id]; !ok || r != w {
				t.Errorf("%s %s: %v (reported %v); want %s", egress, id, r, ok, w)
			}
		}
	}
	findings := map[string]string{}
	for _, c := range rep.Checks {
		if c.ID == "port25.outbound" {
			findings[c.Egress] = c.Finding
		}
	}
	for egress, prefix := range map[string]string{"refused": "refused by the servers", "blocked": "blocked by the network",
		"cut": "no connection at all", "good": "all 2 mail servers answered"} {
		if !strings.HasPrefix(findings[egress], prefix) {
			t.Errorf("%s port25.outbound: %q; want %q", egress, findings[egress], prefix)
		}
	}
	if e := rep.Egresses[0]; e.Address != "192.0.2.7" || e.Source != "stated by a server" {
		t.Errorf("good egress: %+v; want the stated 192.0.2.7", e)
	}
	if rep.Summary.Result != Fail || len(rep.Summary.Sections) != 4 {
		t.Errorf("summary %+v", rep.Summary)
	}
	if t.Failed() || testing.Verbose() {
		for _, c := range rep.Checks {
			t.Logf("%s %s %s %s: %s %v", c.Egress, c.ID, c.Target, c.Result, c.Finding, c.Evidence)
		}
	}
}

// TestDoctorRecent: the hook's events are explained; its error is said.
func TestDoctorRecent(t *testing.T) {
	cfg := doctorFixture(t)
	cfg.DNSBL, cfg.Providers = []string{}, []string{}
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	cfg.Recent = func(_ context.Context, egress string) ([]Event, error) {
		if egress == "broken" {
			return nil, errors.New("state file unreadable")
		}
		return []Event{
			{Time: at, Server: "gmail-smtp-in.l.google.com", Kind: "throttle", Reply: "421 4.7.28 unusual rate of unsolicited mail"},
			{Time: at, Server: "mx.p1.test", Kind: "block", Reply: "554 5.7.1 listed at zen.spamhaus.org"},
		}, nil
	}
	cfg.Egresses = []Egress{{Name: "seen", Dialer: &fakeNet{}, PublicIP: "192.0.2.7", HELO: "out.good.test"},
		{Name: "broken", Dialer: &fakeNet{}, PublicIP: "192.0.2.7", HELO: "out.good.test"}}
	rep, err := Doctor(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	seen, broken := doctorResults(rep, "seen"), doctorResults(rep, "broken")
	if seen["evidence.throttle"] != Warn || seen["evidence.block"] != Fail || broken["evidence.recent"] != Info {
		t.Errorf("seen %v, broken %v", seen, broken)
	}
	for _, c := range rep.Checks {
		if c.ID == "evidence.throttle" && !strings.Contains(c.Finding, "(google)") {
			t.Errorf("throttle not attributed to its provider: %q", c.Finding)
		}
	}
}

// TestDoctorConfigErrors: a configuration that cannot work is an error.
func TestDoctorConfigErrors(t *testing.T) {
	for _, e := range []Egress{{LocalAddr: "not-an-ip"}, {SOCKS5: "http://proxy:8080"}, {SOCKS5: "proxy:99999"}, {PublicIP: "999.1.1.1"}} {
		_, err := Doctor(context.Background(), DoctorConfig{DNS: []string{"127.0.0.1:1"}, Egresses: []Egress{e}})
		if !errors.Is(err, ErrDoctorConfig) {
			t.Errorf("%+v: %v; want ErrDoctorConfig", e, err)
		}
	}
	if l := (&Egress{SOCKS5: "socks5://user:secret@proxy:1080"}).label(); strings.Contains(l, "secret") || l != "socks5 proxy:1080" {
		t.Errorf("label %q", l)
	}
}

func TestStatedAddrs(t *testing.T) {
	got := statedAddrs([]string{"250-mx.google.com at your service, [192.0.2.7]", "250-x Hello [IPv6:2001:db8::1]", "250 SIZE [nope]"})
	if strings.Join(got, " ") != "192.0.2.7 2001:db8::1" {
		t.Errorf("statedAddrs: %q", got)
	}
}

// TestDoctorOddInput: hostile servers, odd server names and a cancelled
// context give checks, not hangs or panics.
func TestDoctorOddInput(t *testing.T) {
	cfg := doctorFixture(t)
	endless := &testsmtp.Server{Banner: testsmtp.Reply{Raw: "220 " + strings.Repeat("a", 200_000)}}
	garbage := &testsmtp.Server{Banner: testsmtp.Reply{Raw: "HELLO THERE\r\n"}}
	t.Cleanup(endless.Close)
	t.Cleanup(garbage.Close)
	cfg.Providers, cfg.DNSBL = []string{"p1.test", "p2.test", "nomx.test"}, []string{}
	cfg.Servers = []string{"", "a b", "[::1]:x", "192.0.2.1:25"}
	cfg.Egresses = []Egress{{Name: "odd", PublicIP: "192.0.2.7", HELO: "out.good.test",
		Dialer: &fakeNet{servers: map[string]*testsmtp.Server{"127.0.0.1:25": endless, "127.0.0.2:25": garbage}}}}
	start := time.Now()
	rep, err := Doctor(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
	var failed, notTried int
	for _, c := range rep.Checks {
		if c.ID == "port25.server" {
			switch {
			case strings.HasPrefix(c.Finding, "the connection failed: no greeting"):
				failed++
			case strings.HasPrefix(c.Finding, "not tried"):
				notTried++
			}
		}
	}
	if failed != 2 || notTried != 3 { // nomx.test, "a b", "[::1]:x"
		t.Errorf("%d hostile greetings failed, %d servers not tried; want 2 and at least 3", failed, notTried)
		for _, c := range rep.Checks {
			t.Logf("%s %s %s: %s", c.ID, c.Target, c.Result, c.Finding)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep, err = Doctor(ctx, cfg)
	if err != nil || rep.Summary.Result != Fail {
		t.Errorf("a cancelled context: %v, %+v; want a failing report", err, rep.Summary)
	}
}
