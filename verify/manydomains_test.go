package verify

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/mx/mxtest"
)

// manyWorld is the bulk benchmark's world: domains of Zipf-distributed
// sizes on fewer servers (as hosting and Workspace/365 customers are),
// some catch-all, some greylisting.
type manyWorld struct {
	res     *mxtest.Resolver
	rt      router
	servers []*testsmtp.Server
	addrs   []string
	perKey  map[string]*keyLoad // server address -> its load
	grey    time.Duration
}

// keyLoad is what one politeness key has to do: for the lower bound.
type keyLoad struct {
	rcpts, domains int
	errors         int // 4xx/5xx replies it must give: unknown users, rejected probes, greylisting
	greylists      bool
}

func newManyWorld(seed uint64, domains, servers, maxAddrs int, rtt, grey time.Duration) *manyWorld {
	rng := rand.New(rand.NewPCG(seed, 1))
	sizes := rand.NewZipf(rng, 1.4, 1, 40)
	hosts := rand.NewZipf(rng, 1.1, 1, uint64(servers-1))
	w := &manyWorld{res: &mxtest.Resolver{MX: map[string][]*net.MX{}, IP: map[string][]netip.Addr{}}, rt: router{}, perKey: map[string]*keyLoad{}, grey: grey}
	known := make([]map[string]bool, servers)
	kind := make([]int, servers) // 0 strict, 1 catch-all, 2 greylisting (then strict)
	for s := range servers {
		known[s] = map[string]bool{}
		switch r := rng.IntN(100); {
		case r < 15:
			kind[s] = 1
		case r < 25:
			kind[s] = 2
		}
	}
	for d := range domains {
		if len(w.addrs) >= maxAddrs {
			break
		}
		s := int(hosts.Uint64())
		if d < servers {
			s = d // every server hosts at least one domain
		}
		domain := fmt.Sprintf("company%d.com", d)
		host := fmt.Sprintf("mx%d.hosting.net", s)
		w.res.MX[domain] = []*net.MX{{Host: host, Pref: 10}}
		key := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 10, byte(s / 256), byte(s % 256)}), 25).String()
		kl := w.perKey[key]
		if kl == nil {
			kl = &keyLoad{greylists: kind[s] == 2}
			w.perKey[key] = kl
		}
		kl.domains++
		if kind[s] != 1 {
			kl.errors++ // the catch-all probe is refused
		}
		for i := range 1 + int(sizes.Uint64()) {
			a := fmt.Sprintf("user%d@%s", i, domain)
			if rng.IntN(10) < 6 {
				known[s][a] = true
			} else if kind[s] != 1 {
				kl.errors++
			}
			if kind[s] == 2 {
				kl.errors++ // greylisted once
			}
			w.addrs = append(w.addrs, a)
			kl.rcpts++
		}
	}
	for s := range servers {
		ip := netip.AddrFrom4([4]byte{127, 10, byte(s / 256), byte(s % 256)})
		w.res.IP[fmt.Sprintf("mx%d.hosting.net", s)] = []netip.Addr{ip}
		srv := manyServer(kind[s], known[s], grey)
		srv.Latency = rtt
		w.servers = append(w.servers, srv)
		w.rt[netip.AddrPortFrom(ip, 25).String()] = srv
	}
	return w
}

// manyServer answers as strict (known mailboxes), catch-all, or
// greylisting each recipient for grey before answering as strict.
func manyServer(kind int, known map[string]bool, grey time.Duration) *testsmtp.Server {
	var mu sync.Mutex
	first := map[string]time.Time{}
	return &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": func(_ *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
		a := rcptAddress(cmd.Arg)
		if kind == 1 {
			return testsmtp.R(250, "2.1.5", "Ok")
		}
		if kind == 2 {
			mu.Lock()
			t0, ok := first[a]
			if !ok {
				t0 = time.Now()
				first[a] = t0
			}
			mu.Unlock()
			if time.Since(t0) < grey {
				return testsmtp.R(450, "4.2.0", "Greylisted, see http://postgrey.schweikert.ch/help/x.html")
			}
		}
		if known[a] || strings.HasPrefix(a, "postmaster@") { // RFC 5321, 4.5.1
			return testsmtp.R(250, "2.1.5", "Ok")
		}
		return testsmtp.R(550, "5.1.1", "User unknown")
	}}}
}

// bound is a lower bound on wall time, in two forms. The simple one: every
// key needs a session (banner, EHLO, MAIL, QUIT: 4 round trips) and its
// RCPTs (one per address and one catch-all probe per domain) in pipelined
// batches of 10; greylisted keys wait out the delay once; sessions run
// Concurrency at a time. The polite one adds what the per-host limits
// impose: a new session (4 round trips) for every MaxErrors (8) refusals,
// which stays under Postfix's error limits, with up to PerHost (2)
// sessions of a key at once. Neither is strict: the client spends fewer
// round trips a session (MAIL goes with the first RCPTs; the greeting
// comes half a round trip after the simulated connect) and more on RCPTs
// (a flush carries at most the error budget's 9, and a session left with
// little of it is renewed), so client round trips can be below the polite
// bound's while the wall time is not.
func (w *manyWorld) bound(rtt time.Duration, concurrency int, polite bool) (time.Duration, int) {
	var sum, longest time.Duration
	rounds := 0
	for _, kl := range w.perKey {
		sessions, parallel := 1, 1
		if polite {
			sessions = max(1, int(math.Ceil(float64(kl.errors)/8)))
			parallel = min(2, sessions)
		}
		r := 4*sessions + int(math.Ceil(float64(kl.rcpts+kl.domains)/batchSize))
		rounds += r
		t := time.Duration(r) * rtt / time.Duration(parallel)
		if kl.greylists {
			t += w.grey
		}
		sum += t
		longest = max(longest, t)
	}
	return max(longest, sum/time.Duration(concurrency)), rounds
}

// BenchmarkManyDomains verifies thousands of addresses of 2,000 domains on
// 200 (and 250) servers with a 20 ms round trip, 15% of servers catch-all
// and 10% greylisting for 2 s. It reports the wall time against the lower
// bound, SMTP connections (one per politeness key is the floor), client
// round trips against the bound's, and the existing mailboxes left
// greylisted. The per-host RCPT rate is raised, so that protocol round
// trips, not the politeness pacing, are measured.
//
//	go test -run '^$' -bench BenchmarkManyDomains -benchtime 1x ./verify
func BenchmarkManyDomains(b *testing.B) {
	for _, servers := range []int{200, 250} {
		b.Run(fmt.Sprintf("servers=%d", servers), func(b *testing.B) {
			for b.Loop() {
				benchManyDomains(b, newManyWorld(1, 2000, servers, 20000, manyRTT, manyGrey))
			}
		})
	}
}

const manyRTT, manyGrey = 20 * time.Millisecond, 2 * time.Second

func benchManyDomains(b *testing.B, w *manyWorld) {
	const rtt, grey, conc = manyRTT, manyGrey, 64
	v := &Verifier{Resolver: w.res, Dialer: w.rt, AllowPrivate: true, HELO: "bench.example.net", ResolverCanary: "-",
		PerHostRate: 1e6, Concurrency: conc, GreylistDelay: grey + 500*time.Millisecond, GreylistMaxWait: 30 * time.Second}
	start := time.Now()
	left, n, undeliverable := 0, 0, 0
	for i, r := range v.VerifyAll(context.Background(), w.addrs) {
		n++
		if r.Status == Undeliverable {
			undeliverable++
		}
		if r.Reason == ReasonGreylisted && strings.HasPrefix(w.addrs[i], "user") {
			left++
		}
	}
	wall := time.Since(start)
	conns, flushes := 0, 0
	for _, s := range w.servers {
		conns += s.Connections()
		flushes += s.Flushes()
		s.Close()
	}
	bound, rounds := w.bound(rtt, conc, false)
	polite, politeRounds := w.bound(rtt, conc, true)
	b.ReportMetric(float64(n), "addresses")
	b.ReportMetric(float64(len(w.perKey)), "keys")
	b.ReportMetric(float64(len(w.res.MX)), "domains")
	b.ReportMetric(float64(conns), "conns")
	b.ReportMetric(float64(flushes)/float64(n), "rtt/addr")
	b.ReportMetric(float64(flushes)/float64(rounds), "rtt/simple-bound")
	b.ReportMetric(float64(flushes)/float64(politeRounds), "rtt/polite-bound")
	b.ReportMetric(wall.Seconds(), "wall-s")
	b.ReportMetric(wall.Seconds()/bound.Seconds(), "wall/simple-bound")
	b.ReportMetric(wall.Seconds()/polite.Seconds(), "wall/polite-bound")
	b.ReportMetric(float64(left), "greylisted-left")
	b.ReportMetric(float64(undeliverable), "undeliverable")
}
