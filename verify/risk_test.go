package verify

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/mailverify/mailverify/disposable"
	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/mx/mxtest"
	"github.com/mailverify/mailverify/suggest"
)

func TestRiskSignals(t *testing.T) {
	w := newWorld()
	defer w.router.close()
	w.add("parked.com", &testsmtp.Server{}) // parking MX: accepts everyone
	w.res.NS = map[string][]string{"parked.com": {"ns1.sedoparking.com.", "ns2.sedoparking.com."}}
	w.add("parkedaddr.com", &testsmtp.Server{})
	w.res.IP["parkedaddr.com"] = []netip.Addr{netip.MustParseAddr("185.53.177.20")} // ParkingCrew's range
	w.add("parkedgrey.com", testsmtp.Greylist())
	w.res.NS["parkedgrey.com"] = []string{"ns1.sedoparking.com"}
	w.add("parkedcname.com", &testsmtp.Server{})
	w.res.CNAME = map[string]string{"parkedcname.com": "traff-2.hugedomains.com."}
	w.add("parkedreal.com", testsmtp.Mailboxes("jane@parkedreal.com"))
	w.res.NS["parkedreal.com"] = []string{"ns1.bodis.com"}
	w.add("tenant.com", &testsmtp.Server{})
	w.res.MX["tenant.com"][0].Host = "tenant-com.mail.protection.outlook.com"
	w.res.IP["tenant-com.mail.protection.outlook.com"] = w.res.IP["mx.tenant.com"]
	w.add("example.com", testsmtp.Mailboxes("jane@example.com", "abuse@example.com"))
	typo := ""
	for _, d := range []string{"gmsil.com", "yaoo.com", "gmail.co", "icloud.co", "gmaill.com"} {
		if suggest.Domain(d) != "" && !disposable.Default().Contains(d) {
			typo = d
			break
		}
	}
	if typo == "" {
		t.Fatal("no typo domain off the disposable list among the candidates")
	}
	w.add(typo, testsmtp.Mailboxes("jane@"+typo))
	w.add("gated.com", testsmtp.Mailboxes("jane@gated.com"))
	w.res.MX["gated.com"][0].Host = "mx0a-001.pphosted.com"
	w.res.IP["mx0a-001.pphosted.com"] = w.res.IP["mx.gated.com"]
	w.res.TXT = map[string][]string{"gated.com": {"v=spf1 include:spf.protection.outlook.com include:_spf.pphosted.com -all"}}
	throwaway := &testsmtp.Server{}
	w.add("fresh-throwaway.com", throwaway)
	w.res.MX["fresh-throwaway.com"][0].Host = "mail.mailinator.com"
	w.res.IP["mail.mailinator.com"] = w.res.IP["mx.fresh-throwaway.com"]

	v := w.verifier()
	v.RiskDNS = true
	ctx := context.Background()
	check := func(addr string, status Status, reason Reason) Result {
		t.Helper()
		r, err := v.Verify(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != status || r.Reason != reason {
			t.Errorf("%s: %s/%s; want %s/%s (risk %+v)", addr, r.Status, r.Reason, status, reason, r.Risk)
		}
		return r
	}
	r := check("jane@parked.com", Risky, ReasonParkedDomain)
	if r.Risk == nil || r.Risk.Parked == nil || r.Risk.Parked.Service != "sedo" || len(r.Risk.Parked.Seen) != 2 {
		t.Errorf("parked.com evidence %+v; want sedo's two name servers", r.Risk)
	}
	r = check("jane@parkedaddr.com", Risky, ReasonParkedDomain)
	if r.Risk == nil || r.Risk.Parked == nil || r.Risk.Parked.Service != "parkingcrew" {
		t.Errorf("parkedaddr.com evidence %+v; want parkingcrew by address", r.Risk)
	}
	// Greylisting on a parked domain stays greylisted: it is worth another try.
	r = check("jane@parkedgrey.com", Unknown, ReasonGreylisted)
	if r.Risk == nil || r.Risk.Parked == nil || r.RetryAfter == 0 {
		t.Errorf("parkedgrey.com: risk %+v retry_after %v; want flagged, with retry_after", r.Risk, r.RetryAfter)
	}
	r = check("jane@parkedcname.com", Risky, ReasonParkedDomain)
	if r.Risk == nil || r.Risk.Parked == nil || r.Risk.Parked.Service != "hugedomains" {
		t.Errorf("parkedcname.com evidence %+v; want hugedomains by CNAME", r.Risk)
	}
	// A definite answer stands on a parked domain; the flag says more.
	r = check("jane@parkedreal.com", Deliverable, ReasonAccepted)
	if r.Risk == nil || r.Risk.Parked == nil || r.Risk.Parked.Service != "bodis" {
		t.Errorf("parkedreal.com evidence %+v; want bodis", r.Risk)
	}
	check("nobody@parkedreal.com", Undeliverable, ReasonMailboxNotFound)
	// Microsoft 365 accepting everyone is a policy, not a catch-all answer.
	r = check("jane@tenant.com", Unknown, ReasonCannotVerify)
	if r.Risk == nil || r.Risk.AcceptsAllByPolicy == nil || r.CatchAll.String() != "yes" {
		t.Errorf("tenant.com: %+v; want accepts_all_by_policy", r.Risk)
	}
	// A typo domain that takes mail; trap-like local parts are flags only.
	r = check("jane@"+typo, Risky, ReasonPossibleTypo)
	if r.Risk == nil || r.Risk.TypoTrap == nil {
		t.Errorf("%s: risk %+v; want typo_trap", typo, r.Risk)
	}
	r = check("abuse@example.com", Deliverable, ReasonAccepted)
	if r.Risk == nil || r.Risk.TrapLocalPart == nil || r.Risk.Parked != nil || r.Risk.TypoTrap != nil {
		t.Errorf("abuse@example.com: risk %+v; want trap_local_part only", r.Risk)
	}
	if r = check("jane@example.com", Deliverable, ReasonAccepted); r.Risk != nil {
		t.Errorf("jane@example.com: risk %+v; want none", r.Risk)
	}
	// A domain on no list whose MX is a disposable service's: decided
	// before any SMTP.
	r = check("jane@fresh-throwaway.com", Risky, ReasonDisposable)
	if r.Risk == nil || r.Risk.DisposableNetwork == nil || r.Risk.DisposableNetwork.Service != "mailinator" || !r.Disposable {
		t.Errorf("fresh-throwaway.com: %+v; want disposable_network mailinator", r.Risk)
	}
	if n := throwaway.Connections(); n != 0 {
		t.Errorf("the throwaway domain's server was asked %d times; want none", n)
	}
	// A gateway's domain: the mailbox provider behind it, from SPF.
	r = check("jane@gated.com", Deliverable, ReasonAccepted)
	if r.Provider != "proofpoint" || r.Backend != "microsoft365" {
		t.Errorf("gated.com: provider %q backend %q; want proofpoint in front of microsoft365", r.Provider, r.Backend)
	}
	// The domain's DNS is asked once, however many addresses.
	check("bob@parked.com", Risky, ReasonParkedDomain)
	if n := w.res.Queries("NS", "parked.com"); n != 1 {
		t.Errorf("NS of parked.com asked %d times; want 1 (cached)", n)
	}
	// Without RiskDNS no extra DNS, and no parked flag.
	off := w.verifier()
	r, _ = off.Verify(ctx, "jane@parked.com")
	if r.Status != Risky || r.Reason != ReasonCatchAll || r.Risk != nil {
		t.Errorf("without RiskDNS: %s/%s risk %+v; want risky/catch_all and no flags", r.Status, r.Reason, r.Risk)
	}
}

// slowResolver answers as its inner resolver after a delay, as a real
// resolver across a network does.
type slowResolver struct {
	inner *mxtest.Resolver
	delay time.Duration
}

func (s slowResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	time.Sleep(s.delay)
	return s.inner.LookupMX(ctx, name)
}

func (s slowResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	time.Sleep(s.delay)
	return s.inner.LookupNetIP(ctx, network, host)
}

func (s slowResolver) LookupNS(ctx context.Context, name string) ([]*net.NS, error) {
	time.Sleep(s.delay)
	return s.inner.LookupNS(ctx, name)
}

// BenchmarkRiskDNS measures what RiskDNS costs: 200 domains, one address
// each, every DNS answer 5 ms away, SMTP answers instant. The NS and A
// questions go at the same time as the MX lookup.
//
//	go test -run '^$' -bench RiskDNS -benchtime 5x ./verify
func BenchmarkRiskDNS(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("risk-dns=%v", on), func(b *testing.B) {
			w := newWorld()
			defer w.router.close()
			w.res.NS = map[string][]string{}
			srv := testsmtp.Mailboxes()
			var addrs []string
			for d := range 200 {
				dom := fmt.Sprintf("d%d.com", d)
				w.add(dom, srv)
				w.res.NS[dom] = []string{"ns1.example.net"}
				addrs = append(addrs, "jane@"+dom)
			}
			for b.Loop() {
				v := w.verifier()
				v.Resolver, v.RiskDNS, v.PerHostRate = slowResolver{w.res, 5 * time.Millisecond}, on, 10000
				for range v.VerifyAll(context.Background(), addrs) {
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(addrs)), "µs/addr")
		})
	}
}

type regs map[string]time.Time

func (r regs) Registered(_ context.Context, d string) (time.Time, error) { return r[d], nil }

func TestListedAndNewDomain(t *testing.T) {
	w := newWorld()
	defer w.router.close()
	w.add("listed.com", testsmtp.Mailboxes("jane@listed.com"))
	w.add("badmx.com", testsmtp.Mailboxes("jane@badmx.com"))
	w.add("young.com", testsmtp.Mailboxes("jane@young.com"))
	w.add("clean.com", testsmtp.Mailboxes("jane@clean.com"))
	w.add("refused.com", testsmtp.Mailboxes("jane@refused.com"))
	// 127.255.255.x is a zone refusing the query (Spamhaus: public
	// resolver, too many queries), not a listing.
	w.res.IP["refused.com.dbl.test"] = []netip.Addr{netip.MustParseAddr("127.255.255.254")}
	w.res.IP["listed.com.dbl.test"] = []netip.Addr{netip.MustParseAddr("127.0.1.2")}
	w.res.IP["clean.com.dbl.test"] = []netip.Addr{netip.MustParseAddr("10.0.0.1")} // not a listing answer
	mxIP := w.res.IP["mx.badmx.com"][0].As4()
	w.res.IP[fmt.Sprintf("%d.%d.%d.%d.zen.test", mxIP[3], mxIP[2], mxIP[1], mxIP[0])] = []netip.Addr{netip.MustParseAddr("127.0.0.4")}
	v := w.verifier()
	v.BlocklistZones, v.IPBlocklistZones = []string{"dbl.test"}, []string{"zen.test"}
	v.Registrations = regs{"young.com": time.Now().Add(-5 * 24 * time.Hour), "clean.com": time.Now().Add(-5 * 365 * 24 * time.Hour)}
	ctx := context.Background()
	for addr, want := range map[string]string{"jane@listed.com": "dbl.test", "jane@badmx.com": "zen.test"} {
		r, _ := v.Verify(ctx, addr)
		if r.Status != Deliverable || r.Risk == nil || r.Risk.Listed == nil || r.Risk.Listed.Service != want {
			t.Errorf("%s: %s risk %+v; want deliverable, listed on %s", addr, r.Status, r.Risk, want)
		}
	}
	r, _ := v.Verify(ctx, "jane@young.com")
	if r.Risk == nil || r.Risk.NewDomain == nil || r.Risk.Listed != nil {
		t.Errorf("young.com: risk %+v; want new_domain only", r.Risk)
	}
	for _, addr := range []string{"jane@clean.com", "jane@refused.com"} {
		if r, _ := v.Verify(ctx, addr); r.Risk != nil {
			t.Errorf("%s: risk %+v; want none", addr, r.Risk)
		}
	}
	_, _ = v.Verify(ctx, "bob@listed.com")
	if n := w.res.Queries("IP", "listed.com.dbl.test"); n != 1 {
		t.Errorf("the zone was asked %d times for two addresses; want 1 (cached)", n)
	}
}
