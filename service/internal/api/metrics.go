package api

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/mailverify/mailverify/service/internal/jobs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the service's Prometheus metrics. No label carries an
// address or a domain: addresses are personal data, and domains are
// unbounded.
type Metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	durations *prometheus.HistogramVec
	jobs      *prometheus.CounterVec
	addresses *prometheus.CounterVec
	replies   *prometheus.CounterVec
	verifyDur prometheus.Histogram

	commands, serverReplies, connections *prometheus.CounterVec

	egressInit   sync.Once // egress.go
	egressEvents *prometheus.CounterVec

	dnsInit sync.Once // dnsmetrics.go
	dns     *dnsCollector
}

// NewMetrics registers the metrics.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailverify_http_requests_total",
			Help: "HTTP requests by route and status code."}, []string{"route", "code"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mailverify_http_request_duration_seconds",
			Help: "HTTP request durations by route.", Buckets: prometheus.DefBuckets}, []string{"route"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailverify_jobs_total",
			Help: "Bulk jobs by event (created, completed)."}, []string{"event"}),
		addresses: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailverify_addresses_total",
			Help: "Addresses verified, by status and reason."}, []string{"status", "reason"}),
		replies: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailverify_deciding_replies_total",
			Help: "The deciding SMTP reply of each verification done here, by class (2xx, 4xx, 5xx)."}, []string{"class"}),
		verifyDur: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "mailverify_verification_duration_seconds",
			Help: "Durations of this process's verifications.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)}),
	}
	m.commands = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailverify_smtp_commands_total",
		Help: "SMTP commands sent, by verb."}, []string{"verb"})
	m.serverReplies = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailverify_smtp_server_replies_total",
		Help: "SMTP replies received, by class (2xx, 3xx, 4xx, 5xx)."}, []string{"class"})
	m.connections = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailverify_smtp_connections_total",
		Help: "SMTP connections opened, by outcome (ok, failed)."}, []string{"outcome"})
	m.reg.MustRegister(m.requests, m.durations, m.jobs, m.addresses, m.replies, m.verifyDur,
		m.commands, m.serverReplies, m.connections,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// WatchQueue adds the queue depth of each partition, read from the bus at
// each scrape.
func (m *Metrics) WatchQueue(bus *jobs.Bus) {
	m.reg.MustRegister(&queueCollector{bus: bus, desc: prometheus.NewDesc("mailverify_queue_depth",
		"Tasks waiting or in flight, by partition of the work queue (7, or google-3 for a provider's).", []string{"partition", "kind"}, nil)})
}

func (m *Metrics) request(route string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.durations.WithLabelValues(route).Observe(d.Seconds())
}

func (m *Metrics) jobCreated() { m.jobs.WithLabelValues("created").Inc() }

// JobCompleted counts a finished job.
func (m *Metrics) JobCompleted() { m.jobs.WithLabelValues("completed").Inc() }

func (m *Metrics) result(status, reason string) { m.addresses.WithLabelValues(status, reason).Inc() }

// Result counts an address verified (the aggregator's hook).
func (m *Metrics) Result(status, reason string) { m.result(status, reason) }

// Verified records a verification done in this process: its deciding
// reply's class and its duration (the worker's hook).
func (m *Metrics) Verified(code int, d time.Duration) {
	if code > 0 {
		m.replies.WithLabelValues(strconv.Itoa(code/100) + "xx").Inc()
	}
	m.verifyDur.Observe(d.Seconds())
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	promhttp.HandlerFor(s.Metrics.reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

type queueCollector struct {
	bus  *jobs.Bus
	desc *prometheus.Desc
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for p, d := range c.bus.Depths(ctx) {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(d.Pending), p, "pending")
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(d.InFlight), p, "in_flight")
	}
}
