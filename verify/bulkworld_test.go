package verify

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"regexp"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/mx/mxtest"
)

// bulkWorld is the politeness benchmark's world: domains of Zipf sizes on
// server addresses of Zipf popularity (each domain with an MX name of its
// own, so that many names lead to one address), 10% of domains
// greylisting (half of them stating the delay in the reply), 5% of servers
// slow (ten times the round trip), and servers that count, as the
// receiver sees them, the RCPTs each second and the connections at once.
// The file is self-contained so that it also runs against an older engine.
type bulkWorld struct {
	res     *mxtest.Resolver
	dial    *countingDialer
	servers []*bulkServer
	addrs   []string // shuffled
	grey    time.Duration
	start   time.Time       // of the run
	greying map[string]bool // the domains that greylist
}

// bulkServer is one server address and what it saw.
type bulkServer struct {
	srv     *testsmtp.Server
	ip      netip.Addr
	rcpts   int // the addresses it hosts
	domains int
	greyed  int  // ... of them at greylisting domains (asked twice)
	greyish bool // it hosts a greylisting domain

	mu    sync.Mutex
	times []time.Time    // when each RCPT arrived
	asked map[string]int // RCPTs per address
	log   []rcptSeen     // every RCPT: its connection, time and address
}

func newBulkWorld(seed uint64, domains, servers int, rtt, grey time.Duration, slowBusiest bool) *bulkWorld {
	rng := rand.New(rand.NewPCG(seed, 7))
	sizes := rand.NewZipf(rng, 1.3, 1, 30)
	pick := rand.NewZipf(rng, 1.05, 1, uint64(servers-1))
	w := &bulkWorld{res: &mxtest.Resolver{MX: map[string][]*net.MX{}, IP: map[string][]netip.Addr{}},
		dial: &countingDialer{routes: map[string]*testsmtp.Server{}}, grey: grey}
	known := map[string]bool{}
	greyDomains := map[string]bool{}
	w.greying = greyDomains
	for s := range servers {
		b := &bulkServer{ip: netip.AddrFrom4([4]byte{127, 30, byte(s / 256), byte(s % 256)})}
		w.servers = append(w.servers, b)
	}
	for d := range domains {
		s := int(pick.Uint64())
		if d < servers {
			s = d
		}
		b := w.servers[s]
		domain := fmt.Sprintf("org%d.com", d)
		host := "mx1." + domain
		w.res.MX[domain] = []*net.MX{{Host: host, Pref: 10}}
		w.res.IP[host] = []netip.Addr{b.ip}
		if rng.IntN(10) == 0 {
			greyDomains[domain] = true
			b.greyish = true
		}
		b.domains++
		for i := range 1 + int(sizes.Uint64()) {
			a := fmt.Sprintf("u%d@%s", i, domain)
			if rng.IntN(10) < 6 {
				known[a] = true
			}
			w.addrs = append(w.addrs, a)
			b.rcpts++
			if greyDomains[domain] {
				b.greyed++
			}
		}
	}
	for s, b := range w.servers {
		b.srv = b.server(known, greyDomains, grey, s%2 == 0)
		b.srv.Latency = rtt
		if s == 0 && slowBusiest || s > 0 && rng.IntN(20) == 0 { // 5% slow; the busiest when asked
			b.srv.Latency = 10 * rtt
		}
		w.dial.routes[netip.AddrPortFrom(b.ip, 25).String()] = b.srv
	}
	rng.Shuffle(len(w.addrs), func(i, j int) { w.addrs[i], w.addrs[j] = w.addrs[j], w.addrs[i] })
	return w
}

// server answers RCPTs of known mailboxes 250, others 550, after
// greylisting the addresses of greylisting domains for grey (stating the
// delay in the reply when stated is set), and records every RCPT's time.
func (b *bulkServer) server(known, greyDomains map[string]bool, grey time.Duration, stated bool) *testsmtp.Server {
	first := map[string]time.Time{}
	b.asked = map[string]int{}
	text := "Greylisted, please come back later"
	if stated {
		text = fmt.Sprintf("Greylisted, try again in %d seconds", int(grey.Seconds()))
	}
	return &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": func(c *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
		a := rcptAddress(cmd.Arg)
		_, domain, _ := cutAt(a)
		now := time.Now()
		b.mu.Lock()
		defer b.mu.Unlock()
		b.times = append(b.times, now)
		b.asked[a]++
		t0, seen := first[a]
		if !seen && greyDomains[domain] {
			first[a] = now
			t0 = now
		}
		r := testsmtp.R(550, "5.1.1", "User unknown")
		switch {
		case greyDomains[domain] && now.Sub(t0) < grey:
			r = testsmtp.R(450, "4.2.0", text)
		case known[a]:
			r = testsmtp.R(250, "2.1.5", "Ok")
		}
		b.log = append(b.log, rcptSeen{conn: c.Index, at: now, addr: a, code: r.Code})
		return r
	}}}
}

func cutAt(a string) (string, string, bool) {
	for i := len(a) - 1; i >= 0; i-- {
		if a[i] == '@' {
			return a[:i], a[i+1:], true
		}
	}
	return a, "", false
}

// maxInWindow is the most RCPTs the server saw in any span of d.
func (b *bulkServer) maxInWindow(d time.Duration) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	ts := slices.Clone(b.times)
	slices.SortFunc(ts, func(x, y time.Time) int { return x.Compare(y) })
	best, lo := 0, 0
	for hi := range ts {
		for ts[hi].Sub(ts[lo]) >= d {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

// perSecond returns the RCPTs the server saw in each second from its
// first RCPT to its last.
func (b *bulkServer) perSecond() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.times) == 0 {
		return nil
	}
	t0 := slices.MinFunc(b.times, func(x, y time.Time) int { return x.Compare(y) })
	var out []int
	for _, t := range b.times {
		s := int(t.Sub(t0) / time.Second)
		for len(out) <= s {
			out = append(out, 0)
		}
		out[s]++
	}
	return out
}

// countingDialer routes "ip:port" to its server and counts the client's
// connections open at once (from dial to Close).
type countingDialer struct {
	routes        map[string]*testsmtp.Server
	open, maxOpen atomic.Int64
}

func (c *countingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	s, ok := c.routes[addr]
	if !ok {
		return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("no route to %s", addr)}
	}
	nc, err := s.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	n := c.open.Add(1)
	for m := c.maxOpen.Load(); n > m && !c.maxOpen.CompareAndSwap(m, n); m = c.maxOpen.Load() {
	}
	return &countedConn{Conn: nc, d: c}, nil
}

type countedConn struct {
	net.Conn
	d    *countingDialer
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.d.open.Add(-1) })
	return c.Conn.Close()
}

func (w *bulkWorld) close() {
	for _, b := range w.servers {
		b.srv.Close()
	}
}

// worldAddr matches the world's addresses; any other recipient is one of
// the engine's random addresses.
var worldAddr = regexp.MustCompile(`^u[0-9]+@org[0-9]+\.com$`)

// rcptKinds splits the RCPTs the server saw: catch-all probes (random
// addresses), and addresses asked again (each RCPT after an address's
// first).
func (b *bulkServer) rcptKinds() (total, probes, again int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for a, n := range b.asked {
		total += n
		if !worldAddr.MatchString(a) {
			probes += n
		} else {
			again += n - 1
		}
	}
	return total, probes, again
}

// span is when the server saw its first and last RCPT, from start.
func (b *bulkServer) span(start time.Time) (time.Duration, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.times) == 0 {
		return 0, 0
	}
	lo := slices.MinFunc(b.times, func(x, y time.Time) int { return x.Compare(y) })
	hi := slices.MaxFunc(b.times, func(x, y time.Time) int { return x.Compare(y) })
	return lo.Sub(start), hi.Sub(start)
}

// busiest is the server with the most RCPTs to answer.
func (w *bulkWorld) busiest() *bulkServer {
	return slices.MaxFunc(w.servers, func(x, y *bulkServer) int { return x.needed() - y.needed() })
}

// needed is the RCPTs the server must answer: one per address, one more
// per address greylisted, and a catch-all probe per domain.
func (b *bulkServer) needed() int { return b.rcpts + b.greyed + b.domains }

// bound is a lower bound on the wall time at rate RCPTs a second per
// server address and conc sessions: the busiest server's RCPTs (needed,
// less the burst) at the rate,
// or all servers' time shared among conc sessions, whichever is longer; a
// server with a greylisting domain needs its delay at least.
func (w *bulkWorld) bound(rate float64, conc int) time.Duration {
	return w.boundOf(rate, conc, (*bulkServer).needed)
}

// boundOf is bound's formula with each server's RCPTs counted by rcpts.
func (w *bulkWorld) boundOf(rate float64, conc int, rcpts func(*bulkServer) int) time.Duration {
	var longest, sum time.Duration
	for _, b := range w.servers {
		t := time.Duration(float64(max(0, rcpts(b)-batchSize)) / rate * float64(time.Second))
		if b.greyish {
			t = max(t, w.grey)
		}
		longest = max(longest, t)
		sum += t
	}
	return max(longest, sum/time.Duration(conc))
}

// bulkParams are the benchmark's politeness settings.
const (
	bulkRate        = 20.0
	bulkConcurrency = 16
	bulkWindow      = 500
	bulkRTT         = 20 * time.Millisecond
	bulkGrey        = 4 * time.Second
)

// runBulk verifies the world's list and returns the wall time, the
// results and how many were left greylisted.
func runBulk(w *bulkWorld) (time.Duration, int, int) {
	v := &Verifier{Resolver: w.res, Dialer: w.dial, AllowPrivate: true, HELO: "bench.example.net", ResolverCanary: "-",
		PerHostRate: bulkRate, Concurrency: bulkConcurrency, Window: bulkWindow, GreylistDelay: bulkGrey + time.Second, GreylistMaxWait: time.Minute}
	start := time.Now()
	w.start = start
	n, left := 0, 0
	for _, r := range v.VerifyAll(context.Background(), w.addrs) {
		n++
		if r.Reason == ReasonGreylisted {
			left++
		}
	}
	return time.Since(start), n, left
}

// BenchmarkBulkPolite verifies a shuffled list of about 3,000 addresses,
// larger than the window (500), on 120 server addresses at 20 RCPT/s each
// and 16 sessions, in the world above (20 ms round trip, 4 s greylisting,
// GreylistDelay matched to it as a caller who knows the world would set).
// In busiest=slow, server 0, the busiest, is one of the slow ones: at ten
// times the round trip (200 ms), the round trips and reconnections of its
// two sessions may hold it below the rate, which the bound does not
// model; in busiest=fast it is not. It reports wall time against the bound
// (bound-s, wall/bound) and against the floor's bound (floor-bound-s,
// wall/floor-bound: the same formula with the busiest server's RCPTs
// its busiest-rcpts-rule-floor, the fewest the evidence rules allow,
// instead of needed; issue #24's 1.1x is restated against it), the
// busiest server's RCPTs (needed: one per address, one more per address
// greylisted, a catch-all probe per domain; sent, by kind; the rule
// floor) and RCPT/s from its first RCPT to its last
// and its most in any second, the most RCPTs any server saw in a second,
// connections (all, and the most open at once), addresses left
// greylisted, and the heap.
//
//	go test -run '^$' -bench BenchmarkBulkPolite -benchtime 1x ./verify
func BenchmarkBulkPolite(b *testing.B) {
	for _, slow := range []bool{false, true} {
		b.Run(map[bool]string{false: "busiest=fast", true: "busiest=slow"}[slow], func(b *testing.B) {
			for b.Loop() {
				benchBulk(b, newBulkWorld(3, 700, 120, bulkRTT, bulkGrey, slow))
			}
		})
	}
}

func benchBulk(b *testing.B, w *bulkWorld) {
	var ms runtime.MemStats
	wall, n, left := runBulk(w)
	runtime.ReadMemStats(&ms)
	w.close()
	busy := w.busiest()
	ps := busy.perSecond()
	worst, conns := 0, 0
	for _, s := range w.servers {
		worst = max(worst, s.maxInWindow(time.Second))
		conns += s.srv.Connections()
	}
	bound := w.bound(bulkRate, bulkConcurrency)
	b.ReportMetric(float64(n), "addresses")
	b.ReportMetric(wall.Seconds(), "wall-s")
	b.ReportMetric(bound.Seconds(), "bound-s")
	b.ReportMetric(wall.Seconds()/bound.Seconds(), "wall/bound")
	b.ReportMetric(float64(len(busy.times))/float64(max(1, len(ps))), "busiest-rcpt/s")
	b.ReportMetric(float64(slices.Max(append(ps, 0))), "busiest-max-rcpt/s")
	b.ReportMetric(float64(worst), "any-max-rcpt/s")
	b.ReportMetric(float64(conns), "conns")
	b.ReportMetric(float64(w.dial.maxOpen.Load()), "max-open")
	b.ReportMetric(float64(left), "greylisted-left")
	total, probes, again := busy.rcptKinds()
	b.ReportMetric(float64(busy.needed()), "busiest-rcpts-needed")
	b.ReportMetric(float64(total), "busiest-rcpts")
	b.ReportMetric(float64(probes), "busiest-probes")
	b.ReportMetric(float64(again), "busiest-asked-again")
	pairs, carrying, _ := busy.domainFlushes(bulkRTT / 2)
	b.ReportMetric(float64(carrying)/float64(busy.domains), "busiest-flushes/domain")
	b.ReportMetric(float64(pairs-carrying), "busiest-probe-flushes")
	kinds, why := busy.rcptBreakdown(bulkRTT/2, w.index(), bulkWindow, bulkDump())
	b.ReportMetric(float64(kinds[kindPair]+kinds[kindFront]), "busiest-fronts")
	b.ReportMetric(float64(kinds[kindCanary]+kinds[kindAlone]), "busiest-canaries+alone")
	b.ReportMetric(float64(kinds[kindCtlPM]+kinds[kindCtlAcc]), "busiest-controls")
	b.Logf("busiest server's RCPTs by kind: %s", formatBreakdown(kinds, why))
	floor, floorFlushes := w.ruleFloor(busy)
	b.ReportMetric(float64(floor), "busiest-rcpts-rule-floor")
	fb := w.floorBound(bulkRate, bulkConcurrency, busy, floor)
	b.ReportMetric(fb.Seconds(), "floor-bound-s")
	b.ReportMetric(wall.Seconds()/fb.Seconds(), "wall/floor-bound")
	b.ReportMetric(float64(floorFlushes)/float64(busy.domains), "busiest-flushes/domain-floor")
	lo, hi := busy.span(w.start)
	b.ReportMetric(lo.Seconds(), "busiest-first-s")
	b.ReportMetric(hi.Seconds(), "busiest-last-s")
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MB")
	b.Logf("busiest server: %d addresses (%d greylisted), %d domains; RCPTs per second: %v", busy.rcpts, busy.greyed, busy.domains, ps)
}
