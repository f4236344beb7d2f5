// Package testdns is a scripted DNS server for tests: zones from record
// lines, names that answer with an rcode, hang or need TCP, and query
// counts. It serves UDP and TCP on one loopback port.
//
// It is the project's harness, not API.
package testdns

import (
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// A Zone answers from its records, following CNAMEs, with NXDOMAIN for
// names it does not hold and an SOA (TTL 300, MINIMUM 60) in negative
// answers. Set its maps before serving.
type Zone struct {
	Records  map[string][]dns.RR // by lower-case FQDN owner
	Rcode    map[string]int      // owner -> rcode to answer with
	Hang     map[string]bool     // owner -> never answer
	Truncate map[string]bool     // owner -> over UDP, answer truncated and empty
	// Secure lists the zones (lower-case FQDNs) whose answers carry the
	// AD bit, as a validating resolver gives for a signed zone: the owner
	// or any name under it.
	Secure map[string]bool

	mu      sync.Mutex
	queries map[string]int // "TYPE name" -> count
	tcp     int
}

// SOA is the record the zone puts in negative answers.
const SOA = "test. 300 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60"

// NewZone returns a zone holding the records, in zone-file syntax.
func NewZone(lines ...string) (*Zone, error) {
	z := &Zone{Records: map[string][]dns.RR{}, Rcode: map[string]int{}, Hang: map[string]bool{}, Truncate: map[string]bool{}, queries: map[string]int{}}
	for _, l := range lines {
		if err := z.Add(l); err != nil {
			return nil, err
		}
	}
	return z, nil
}

// Add adds one record in zone-file syntax.
func (z *Zone) Add(line string) error {
	r, err := dns.NewRR(line)
	if err != nil {
		return fmt.Errorf("testdns: %q: %w", line, err)
	}
	name := strings.ToLower(r.Header().Name)
	z.mu.Lock()
	defer z.mu.Unlock()
	z.Records[name] = append(z.Records[name], r)
	return nil
}

// Count returns how many queries of type qtype for name the zone answered.
func (z *Zone) Count(qtype uint16, name string) int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.queries[dns.TypeToString[qtype]+" "+strings.ToLower(dns.Fqdn(name))]
}

// Queries returns the number of queries of any kind.
func (z *Zone) Queries() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	n := 0
	for _, c := range z.queries {
		n += c
	}
	return n
}

// TCPQueries returns how many queries came over TCP.
func (z *Zone) TCPQueries() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.tcp
}

// ServeDNS implements dns.Handler.
func (z *Zone) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	_, udp := w.RemoteAddr().(*net.UDPAddr)
	z.mu.Lock()
	z.queries[dns.TypeToString[q.Qtype]+" "+name]++
	if !udp {
		z.tcp++
	}
	hang, rcode, hasRcode, trunc := z.Hang[name], z.Rcode[name], false, z.Truncate[name]
	_, hasRcode = z.Rcode[name]
	z.mu.Unlock()
	if hang {
		return
	}
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	for zone := range z.Secure {
		if dns.IsSubDomain(zone, name) {
			m.AuthenticatedData = true
		}
	}
	if hasRcode {
		m.Rcode = rcode
		w.WriteMsg(m)
		return
	}
	if udp && trunc {
		m.Truncated = true
		w.WriteMsg(m)
		return
	}
	owner, exists := name, false
	for hops := 0; hops < 10; hops++ {
		recs, ok := z.Records[owner]
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
		s, _ := dns.NewRR(SOA)
		m.Ns = append(m.Ns, s)
	}
	w.WriteMsg(m)
}

// Start serves h on 127.0.0.1 over UDP and TCP on one port and returns
// the address and a func that stops the servers and waits for them.
func Start(h dns.Handler) (addr string, stop func(), err error) {
	var pc net.PacketConn
	var ln net.Listener
	for range 10 { // find a port free for both UDP and TCP
		var err error
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return "", nil, err
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
		pc = nil
	}
	if pc == nil {
		return "", nil, fmt.Errorf("testdns: no port free for both UDP and TCP")
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
	return pc.LocalAddr().String(), func() {
		udp.Shutdown()
		tcp.Shutdown()
		done.Wait()
	}, nil
}
