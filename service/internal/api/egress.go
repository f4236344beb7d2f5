package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/service/internal/jobs"
	"github.com/prometheus/client_golang/prometheus"
)

// egressReport is the answer of GET /v1/egress.
type egressReport struct {
	// Egresses are this node's egresses, with their health and budget
	// use per provider; empty when it probes through one way out.
	Egresses []egress.EgressStatus `json:"egresses"`
	// Pairs are every (egress, provider) pair of the cluster the shared
	// store knows, with the evidence and what to do.
	Pairs []egress.Status `json:"pairs"`
	// Workers are the running workers of the cluster, each with the
	// egresses it declared and the providers it leaves to others now.
	Workers []jobs.Declaration `json:"workers"`
}

// egressStatus answers GET /v1/egress: state, evidence, next retry and
// budget use of the egresses.
func (s *Server) egressStatus(w http.ResponseWriter, r *http.Request) {
	rep := egressReport{Egresses: []egress.EgressStatus{}, Pairs: []egress.Status{}, Workers: []jobs.Declaration{}}
	if s.Verifier != nil {
		es, err := s.Verifier.EgressStatus()
		if err != nil {
			writeProblem(w, http.StatusServiceUnavailable, "unavailable", err.Error())
			return
		}
		rep.Egresses = append(rep.Egresses, es...)
	}
	if s.EgressStore != nil {
		ps, err := (&egress.Health{Store: s.EgressStore}).Snapshot()
		if err != nil {
			writeProblem(w, http.StatusServiceUnavailable, "unavailable", err.Error())
			return
		}
		rep.Pairs = append(rep.Pairs, ps...)
	}
	if s.Bus != nil {
		ws, err := s.Bus.Workers(r.Context())
		if err != nil {
			writeProblem(w, http.StatusServiceUnavailable, "unavailable", "the workers' declarations cannot be read")
			return
		}
		rep.Workers = ws
	}
	writeJSON(w, http.StatusOK, rep)
}

// EgressEvent counts a state change of an (egress, provider) pair
// (mailverify_egress_events_total); give it to the verifiers'
// OnEgressEvent.
func (m *Metrics) EgressEvent(ev egress.EgressEvent) {
	m.egressOnce()
	m.egressEvents.WithLabelValues(ev.Egress, providerLabel(ev.Provider), ev.To.String()).Inc()
}

// WatchEgress adds, read from the store at each scrape, the state of every
// (egress, provider) pair (mailverify_egress_state, 1 for the state it is
// in) and the seconds left of its back-off.
func (m *Metrics) WatchEgress(store egress.Store) {
	m.egressOnce()
	m.reg.MustRegister(&egressCollector{h: &egress.Health{Store: store}})
}

func (m *Metrics) egressOnce() {
	m.egressInit.Do(func() {
		m.egressEvents = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailverify_egress_events_total",
			Help: "State changes of (egress, provider) pairs, by the state entered."}, []string{"egress", "provider", "to"})
		m.reg.MustRegister(m.egressEvents)
	})
}

// providerLabel keeps the label set bounded and free of addresses: a
// server that is no known provider is "other".
func providerLabel(p string) string {
	if strings.HasPrefix(p, "server:") {
		return "other"
	}
	return p
}

var (
	egressStateDesc = prometheus.NewDesc("mailverify_egress_state",
		"1 for the state each (egress, provider) pair is in (healthy, throttled, soft_limited, blocked, half_open).",
		[]string{"egress", "provider", "state"}, nil)
	egressBackoffDesc = prometheus.NewDesc("mailverify_egress_backoff_seconds",
		"Seconds left of each (egress, provider) pair's back-off; 0 when none.", []string{"egress", "provider"}, nil)
)

type egressCollector struct{ h *egress.Health }

func (c *egressCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- egressStateDesc
	ch <- egressBackoffDesc
}

func (c *egressCollector) Collect(ch chan<- prometheus.Metric) {
	st, err := c.h.Snapshot()
	if err != nil {
		return
	}
	seen := map[[3]string]bool{}
	for _, s := range st {
		p := providerLabel(s.Key.Provider)
		k := [3]string{s.Key.Egress, p, s.State.String()}
		if seen[k] {
			continue // several "other" servers in one state: one series
		}
		seen[k] = true
		ch <- prometheus.MustNewConstMetric(egressStateDesc, prometheus.GaugeValue, 1, s.Key.Egress, p, s.State.String())
		if p != "other" {
			left := 0.0
			if d := time.Until(s.Until); s.State != egress.StateHealthy && d > 0 {
				left = d.Seconds()
			}
			ch <- prometheus.MustNewConstMetric(egressBackoffDesc, prometheus.GaugeValue, left, s.Key.Egress, p)
		}
	}
}
