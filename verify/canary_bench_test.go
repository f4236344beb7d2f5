package verify

import (
	"context"
	"strings"
	"testing"
	"time"
)

// BenchmarkCanaryCost measures what the canary (a random address of the
// domain at the end of each batch's flush that carries acceptances, on a
// server that pipelines) costs on BenchmarkManyDomains' world (2,000
// domains, 200 servers, 20 ms round trip), against baselines verified in
// the same run:
//   - "on": the Verifier as it is;
//   - "trailing": the same evidence rules with no canary in the batch's
//     flush (an internal knob): the refusal an acceptance needs after it
//     comes from a trailing probe, a flush of its own, as on a server
//     that does not pipeline. on/trailing is what the canary itself
//     costs against the other way of proving the same acceptances;
//   - "nocanary": no random address after acceptances at all, and so no
//     front pair either (an internal knob): no acceptance is proven but
//     a provider's own consumer domain's, so on/nocanary is the cost of
//     the evidence rules as a whole, against a verifier that says
//     deliverable of almost nothing;
//   - "skip": SkipCatchAll, the public off state: no random address at
//     all, every acceptance unknown.
//
// Per mode it reports client round trips (flushes) and wall time per
// address, RCPTs of random addresses per domain, connections and
// deliverable verdicts; then the ratios rtt-on/nocanary, wall-on/nocanary,
// rtt-on/trailing and wall-on/trailing.
//
//	go test -run '^$' -bench BenchmarkCanaryCost -benchtime 1x -timeout 0 ./verify
func BenchmarkCanaryCost(b *testing.B) {
	for b.Loop() {
		modes := []string{"skip", "nocanary", "trailing", "on"}
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
		b.ReportMetric(st["on"].rtts/st["trailing"].rtts, "rtt-on/trailing")
		b.ReportMetric(st["on"].wall.Seconds()/st["trailing"].wall.Seconds(), "wall-on/trailing")
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
	v.eg.noInline = mode == "trailing"
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
