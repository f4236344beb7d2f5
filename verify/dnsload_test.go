package verify

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// tableFull is a recursive server with a query table of limit entries:
// a query that arrives while limit are being resolved (each takes delay)
// is dropped, as unbound drops past num-queries-per-thread. It answers
// every name with an MX whose host is on a loopback address.
type tableFull struct {
	limit                      int64
	delay                      time.Duration
	inFlight, maxSeen, dropped atomic.Int64
}

func (s *tableFull) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	n := s.inFlight.Add(1)
	if n > s.limit {
		s.inFlight.Add(-1)
		s.dropped.Add(1)
		return
	}
	for m := s.maxSeen.Load(); n > m && !s.maxSeen.CompareAndSwap(m, n); m = s.maxSeen.Load() {
	}
	time.Sleep(s.delay)
	s.inFlight.Add(-1) // resolved: the answer leaves the table
	r := new(dns.Msg)
	r.SetReply(q)
	name := q.Question[0].Name
	var rr dns.RR
	switch q.Question[0].Qtype {
	case dns.TypeMX:
		rr, _ = dns.NewRR(name + " 300 IN MX 10 mx." + name)
	case dns.TypeA:
		rr, _ = dns.NewRR(name + " 300 IN A 127.0.0.1")
	}
	if rr != nil {
		r.Answer = append(r.Answer, rr)
	} else {
		soa, _ := dns.NewRR("test. 300 IN SOA ns.test. h.test. 1 3600 600 86400 60")
		r.Ns = append(r.Ns, soa)
	}
	_ = w.WriteMsg(r)
}

// TestDNSUnderLoad verifies 300 addresses of 300 domains (SkipSMTP, 64
// sessions, so 128 lookups at once, each asking MX, A and AAAA) against a
// resolver that drops what exceeds 16 queries in flight. With the DNS
// client's bound at 16, no address ends in dns_error: the burst waits for
// places instead of being dropped, and the server never sees more than
// 16.
func TestDNSUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("real sockets and time")
	}
	t.Parallel()
	srv := &tableFull{limit: 16, delay: 5 * time.Millisecond}
	d := startDNS(t, srv)
	d.MaxInFlight = 16
	v := &Verifier{Resolver: d, SkipSMTP: true, AllowPrivate: true, ResolverCanary: "-", Concurrency: 64, Timeout: 20 * time.Second}
	var addrs []string
	for i := range 300 {
		addrs = append(addrs, fmt.Sprintf("u@load%d.com", i))
	}
	bad := 0
	for _, r := range v.VerifyAll(context.Background(), addrs) {
		if r.Reason != ReasonSMTPNotChecked {
			if bad++; bad <= 3 {
				t.Errorf("%s: %s/%s %s", r.Input, r.Status, r.Reason, r.Error)
			}
		}
	}
	if m := srv.maxSeen.Load(); m > 16 || srv.dropped.Load() > 0 {
		t.Errorf("the server saw %d queries at once and dropped %d; the bound is 16", m, srv.dropped.Load())
	}
	st := d.Stats()
	if st.Waits == 0 || st.Timeouts != 0 {
		t.Errorf("stats %+v: the burst should have waited for places, and nothing timed out", st)
	}
	if bad > 0 {
		t.Errorf("%d of 300 not smtp_not_checked", bad)
	}
}
