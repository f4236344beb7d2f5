package mx

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// zone is a scripted test zone: records by owner name (lower case, FQDN),
// plus names that answer with an rcode, hang, or need TCP.
type zone struct {
	records  map[string][]dns.RR
	rcode    map[string]int  // owner -> rcode to answer with
	hang     map[string]bool // owner -> never answer
	truncate map[string]bool // owner -> over UDP, answer truncated and empty

	mu      sync.Mutex
	queries map[string]int // "TYPE name" -> count
	tcp     int
}

func rr(t testing.TB, s string) dns.RR {
	t.Helper()
	r, err := dns.NewRR(s)
	if err != nil {
		t.Fatalf("dns.NewRR(%q): %v", s, err)
	}
	return r
}

func newZone(t testing.TB, lines ...string) *zone {
	z := &zone{records: map[string][]dns.RR{}, rcode: map[string]int{}, hang: map[string]bool{}, truncate: map[string]bool{}, queries: map[string]int{}}
	for _, l := range lines {
		r := rr(t, l)
		name := strings.ToLower(r.Header().Name)
		z.records[name] = append(z.records[name], r)
	}
	return z
}

func (z *zone) count(qtype uint16, name string) int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.queries[dns.TypeToString[qtype]+" "+strings.ToLower(dns.Fqdn(name))]
}

// soa is the SOA the zone puts in negative answers: TTL 300, MINIMUM 60.
const soa = "test. 300 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60"

func (z *zone) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	_, udp := w.RemoteAddr().(*net.UDPAddr)
	z.mu.Lock()
	z.queries[dns.TypeToString[q.Qtype]+" "+name]++
	if !udp {
		z.tcp++
	}
	z.mu.Unlock()
	if z.hang[name] {
		return
	}
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if rc, ok := z.rcode[name]; ok {
		m.Rcode = rc
		w.WriteMsg(m)
		return
	}
	if udp && z.truncate[name] {
		m.Truncated = true
		w.WriteMsg(m)
		return
	}
	owner, exists := name, false
	for hops := 0; hops < 10; hops++ {
		recs, ok := z.records[owner]
		exists = exists || ok
		next := ""
		for _, r := range recs {
			switch {
			case r.Header().Rrtype == q.Qtype:
				m.Answer = append(m.Answer, r)
			case r.Header().Rrtype == dns.TypeCNAME:
				m.Answer = append(m.Answer, r)
				next = strings.ToLower(r.(*dns.CNAME).Target)
			}
		}
		if next == "" {
			break
		}
		owner = next
	}
	if !exists {
		m.Rcode = dns.RcodeNameError
	}
	if len(m.Answer) == 0 {
		s, _ := dns.NewRR(soa)
		m.Ns = append(m.Ns, s)
	}
	w.WriteMsg(m)
}

// serve runs h on 127.0.0.1 over UDP and TCP on one port and returns the
// address. The servers stop when the test ends.
func serve(t testing.TB, h dns.Handler) string {
	t.Helper()
	var pc net.PacketConn
	var ln net.Listener
	for range 10 { // find a port free for both UDP and TCP
		var err error
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
		pc = nil
	}
	if pc == nil {
		t.Fatal("no port free for both UDP and TCP")
	}
	udp := &dns.Server{PacketConn: pc, Handler: h}
	tcp := &dns.Server{Listener: ln, Handler: h}
	var started sync.WaitGroup
	started.Add(2)
	udp.NotifyStartedFunc = started.Done
	tcp.NotifyStartedFunc = started.Done
	var done sync.WaitGroup
	done.Go(func() { udp.ActivateAndServe() })
	done.Go(func() { tcp.ActivateAndServe() })
	started.Wait()
	t.Cleanup(func() {
		udp.Shutdown()
		tcp.Shutdown()
		done.Wait()
	})
	return pc.LocalAddr().String()
}

// testDNS returns a DNS resolver that asks only addr, with short timeouts.
func testDNS(addrs ...string) *DNS {
	return &DNS{Servers: addrs, Timeout: 300 * time.Millisecond, Attempts: 1}
}

// standardZone is the zone most tests share.
func standardZone(t testing.TB) *zone {
	z := newZone(t,
		"example.test. 3600 IN MX 10 mx1.example.test.",
		"example.test. 3600 IN MX 20 mx2.example.test.",
		"example.test. 3600 IN MX 10 mx3.example.test.",
		"mx1.example.test. 600 IN A 1.2.3.4",
		"mx1.example.test. 600 IN AAAA 2606:4700::1",
		"mx2.example.test. 600 IN A 1.2.3.5",
		"mx3.example.test. 120 IN A 1.2.3.6",
		"nullmx.test. 3600 IN MX 0 .",
		"cname.test. 300 IN MX 10 alias.cname.test.",
		"alias.cname.test. 300 IN CNAME real.cname.test.",
		"real.cname.test. 300 IN A 1.2.3.7",
		"mxcname.test. 300 IN CNAME example.test.",
		"implicit.test. 300 IN A 1.2.3.8",
		"implicit.test. 300 IN TXT \"v=spf1 -all\"",
		"empty.test. 300 IN TXT \"nothing here\"",
		"private.test. 300 IN MX 10 mx.private.test.",
		"mx.private.test. 300 IN A 127.0.0.1",
		"mx.private.test. 300 IN A 10.1.2.3",
		"mx.private.test. 300 IN AAAA ::1",
		"partial.test. 300 IN MX 10 gone.partial.test.",
		"partial.test. 300 IN MX 20 ok.partial.test.",
		"ok.partial.test. 300 IN A 1.2.3.9",
		"allgone.test. 300 IN MX 10 gone.allgone.test.",
		"hosttemp.test. 300 IN MX 10 broken.hosttemp.test.",
		"gmail.test. 300 IN MX 5 gmail-smtp-in.l.google.com.",
		"gmail-smtp-in.l.google.com. 300 IN A 1.2.3.10",
		"numeric.test. 300 IN MX 10 1.2.3.11.",
	)
	z.rcode["servfail.test."] = dns.RcodeServerFailure
	z.rcode["broken.hosttemp.test."] = dns.RcodeServerFailure
	z.hang["slow.test."] = true
	big := []string{}
	for i := range 40 {
		big = append(big, "big.test. 300 IN MX 10 mx"+strings.Repeat("x", 40)+string(rune('a'+i%26))+string(rune('a'+i/26))+".big.test.")
	}
	for _, l := range big {
		r := rr(t, l)
		z.records["big.test."] = append(z.records["big.test."], r)
	}
	z.truncate["big.test."] = true
	return z
}
