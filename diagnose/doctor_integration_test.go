//go:build integration

package diagnose

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// TestDoctorInNamespace runs doctor in the integration namespace
// (integration/harness.sh): egresses bound to 127.0.0.30 (PTR
// out.it.test, forward-confirmed, SPF of egress.it.test) and 127.0.0.31
// (no PTR, a HELO of the other address, a null-MX MAIL FROM domain,
// listed in bl.it.test) against Postfix, a server that greets with 554,
// and mail servers behind a route that drops every packet.
func TestDoctorInNamespace(t *testing.T) {
	dnsAddr, dir := os.Getenv("MAILVERIFY_IT_DNS"), os.Getenv("MAILVERIFY_IT_DIR")
	if dnsAddr == "" || dir == "" {
		t.Skip("run through integration/harness.sh test")
	}
	refuser := &testsmtp.Server{Banner: testsmtp.Reply{Code: 554, Enhanced: "5.7.1",
		Lines: []string{"mx-refuse.it.test Service unavailable; client host blocked using bl.it.test"}}}
	ln, err := net.Listen("tcp", "127.0.0.41:25")
	if err != nil {
		t.Fatal(err)
	}
	refuser.Serve(ln)
	defer refuser.Close()

	ptr := Egress{Name: "ptr", LocalAddr: "127.0.0.30", HELO: "out.it.test", MailFrom: "probe@egress.it.test"}
	noptr := Egress{Name: "noptr", LocalAddr: "127.0.0.31", HELO: "out.it.test", MailFrom: "probe@nullmx.it.test"}
	cfg := DoctorConfig{DNS: []string{dnsAddr}, Providers: []string{"mailbox.it.test", "catchall.it.test", "refuser.it.test"},
		Controls: []string{}, DNSBL: []string{"bl.it.test", "gone.it.test"}, AllowPrivate: true, Timeout: 5 * time.Second,
		Egresses: []Egress{ptr, noptr}}
	ctx := context.Background()
	rep, err := Doctor(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]Result{
		"ptr": {"port25.server": Fail, "port25.outbound": Warn, "identity.address": Info, "identity.ptr": Pass,
			"identity.fcrdns": Pass, "identity.helo": Pass, "identity.mail_from": Pass, "identity.spf": Pass,
			"blocklist.bl.it.test": Pass, "blocklist.gone.it.test": Info},
		"noptr": {"port25.outbound": Warn, "identity.ptr": Fail, "identity.helo": Fail, "identity.mail_from": Fail,
			"identity.spf": Warn, "blocklist.bl.it.test": Fail},
	}
	for egress, checks := range want {
		got := doctorResults(rep, egress)
		for id, w := range checks {
			if r, ok := got[id]; !ok || r != w {
				t.Errorf("%s %s: %v (reported %v); want %s", egress, id, r, ok, w)
			}
		}
	}
	for _, e := range rep.Egresses {
		if want := map[string]string{"ptr": "127.0.0.30", "noptr": "127.0.0.31"}[e.Name]; e.Address != want || e.Source != "local" {
			t.Errorf("egress %s: address %q (%s); want the local %s", e.Name, e.Address, e.Source, want)
		}
	}
	for _, c := range rep.Checks {
		if c.ID == "port25.server" && strings.HasPrefix(c.Target, "mx-refuse.it.test") && !strings.Contains(c.Finding, "554 5.7.1") {
			t.Errorf("the 554 banner's text is not reported: %q", c.Finding)
		}
	}
	logIfFailed(t, rep)

	// Only the 554 server: refused by the server, not blocked.
	only := cfg
	only.Providers, only.Egresses, only.DNSBL = []string{"refuser.it.test"}, []Egress{ptr}, []string{}
	rep, err = Doctor(ctx, only)
	if err != nil {
		t.Fatal(err)
	}
	if f := finding(rep, "port25.outbound"); !strings.HasPrefix(f, "refused by the servers") {
		t.Errorf("554 everywhere: %q; want refused by the servers", f)
	}
	logIfFailed(t, rep)

	// Port 25 dropped by the network while another port answers.
	if _, err := os.Stat(filepath.Join(dir, "dropped-route")); err != nil {
		t.Skip("no dropping route in this namespace (no veth links)")
	}
	control, err := net.Listen("tcp", "127.0.0.42:587")
	if err != nil {
		t.Fatal(err)
	}
	defer control.Close()
	go func() {
		for {
			c, err := control.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	dropped := cfg
	dropped.Providers, dropped.Controls, dropped.DNSBL = []string{"dropped.it.test"}, []string{"127.0.0.42:587"}, []string{}
	dropped.Egresses, dropped.Timeout = []Egress{{Name: "direct", HELO: "out.it.test"}}, 2*time.Second
	start := time.Now()
	rep, err = Doctor(ctx, dropped)
	if err != nil {
		t.Fatal(err)
	}
	if f := finding(rep, "port25.outbound"); !strings.HasPrefix(f, "blocked by the network") || time.Since(start) < 2*time.Second {
		t.Errorf("port 25 dropped: %q after %s; want blocked by the network after the 2 s timeout", f, time.Since(start))
	}
	dropped.Controls = []string{}
	rep, err = Doctor(ctx, dropped)
	if err != nil {
		t.Fatal(err)
	}
	if f := finding(rep, "port25.outbound"); !strings.HasPrefix(f, "no connection at all") {
		t.Errorf("everything dropped: %q; want no connection at all", f)
	}
	logIfFailed(t, rep)
}

func finding(rep *DoctorReport, id string) string {
	for _, c := range rep.Checks {
		if c.ID == id {
			return c.Finding
		}
	}
	return ""
}

func logIfFailed(t *testing.T, rep *DoctorReport) {
	if !t.Failed() {
		return
	}
	for _, c := range rep.Checks {
		t.Logf("%s %s %s %s: %s %v", c.Egress, c.ID, c.Target, c.Result, c.Finding, c.Evidence)
	}
}
