package verify

import (
	"context"
	"strings"
	"testing"
	"time"
)

// BenchmarkCanaryCost measures what the canary (the trailing probe: a
// random address of the domain after each flush that carries
// acceptances no refusal followed) costs on BenchmarkManyDomains' world
// (2,000 domains, 200 servers, 20 ms round trip), against baselines
// verified in the same run:
//   - "on": the Verifier as it is;
//   - "nocanary": the same with the trailing probe off (an internal knob:
//     the domain's first catch-all probe stays; an acceptance no refusal
//     of the domain followed in its transaction ends unknown/cannot_verify
//     instead of waiting for the canary), so on/nocanary is the canary's
//     cost;
//   - "skip": SkipCatchAll, the public off state: no random address at
//     all, every acceptance unknown.
//
// Per mode it reports client round trips (flushes) and wall time per
// address, RCPTs of random addresses per domain, connections and
// deliverable verdicts; then the ratios rtt-on/nocanary and
// wall-on/nocanary (target: at most 1.10).
//
//	go test -run '^$' -bench BenchmarkCanaryCost -benchtime 1x -timeout 0 ./verify
func BenchmarkCanaryCost(b *testing.B) {
	for b.Loop() {
		modes := []string{"skip", "nocanary", "on"}
		st := map[string]canaryStats{}
		for _, m := range modes {
			st[m] = canaryRun(b, m)
		}
		for _, m := range modes {
			s := st[m]
			b.ReportMetric(s.rtts/s.n, m+"-rtt/addr")
			b.ReportMetric(s.wall.Seconds()*1e3/s.n, m+"-wall-ms/addr")
			b.ReportMetric(s.probes/s.domains, m+"-probe-rcpt/domain")
			b.ReportMetric(s.conns, m+"-conns")
			b.ReportMetric(s.deliverable, m+"-deliverable")
		}
		b.ReportMetric(st["on"].rtts/st["nocanary"].rtts, "rtt-on/nocanary")
		b.ReportMetric(st["on"].wall.Seconds()/st["nocanary"].wall.Seconds(), "wall-on/nocanary")
	}
}

type canaryStats struct {
	n, rtts, probes, domains, conns, deliverable float64
	wall                                         time.Duration
}

// canaryRun verifies a fresh many-domains world (the same seed each time)
// in one of BenchmarkCanaryCost's modes.
func canaryRun(b *testing.B, mode string) canaryStats {
	b.Helper()
	w := newManyWorld(1, 2000, 200, 20000, manyRTT, manyGrey)
	v := &Verifier{Resolver: w.res, Dialer: w.rt, AllowPrivate: true, HELO: "bench.example.net", ResolverCanary: "-",
		PerHostRate: 1e6, Concurrency: 64, GreylistDelay: manyGrey + 500*time.Millisecond, GreylistMaxWait: 30 * time.Second,
		SkipCatchAll: mode == "skip"}
	v.eg.noCanary = mode == "nocanary"
	var st canaryStats
	start := time.Now()
	for _, r := range v.VerifyAll(context.Background(), w.addrs) {
		st.n++
		if r.Status == Deliverable {
			st.deliverable++
		}
	}
	st.wall = time.Since(start)
	st.domains = float64(len(w.res.MX))
	for _, s := range w.servers {
		st.conns += float64(s.Connections())
		st.rtts += float64(s.Flushes())
		for _, l := range s.Transcript() {
			if strings.HasPrefix(strings.ToUpper(l), "C: RCPT") && !strings.HasPrefix(rcptAddress(l[len("C: RCPT "):]), "user") {
				st.probes++
			}
		}
		s.Close()
	}
	return st
}
