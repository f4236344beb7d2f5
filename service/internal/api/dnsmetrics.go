package api

import (
	"sync"

	"github.com/mailverify/mailverify/mx"
	"github.com/prometheus/client_golang/prometheus"
)

// WatchDNS adds d's counts (mx.DNS.Stats) to the metrics, read at each
// scrape: mailverify_dns_queries_total, _timeouts_total, _retries_total
// and _waits_total, summed over every resolver watched.
func (m *Metrics) WatchDNS(d *mx.DNS) {
	m.dnsInit.Do(func() {
		m.dns = &dnsCollector{}
		m.reg.MustRegister(m.dns)
	})
	m.dns.mu.Lock()
	defer m.dns.mu.Unlock()
	m.dns.resolvers = append(m.dns.resolvers, d)
}

var dnsDescs = [4]*prometheus.Desc{
	prometheus.NewDesc("mailverify_dns_queries_total", "DNS queries sent by the stub resolver (each try, each retry).", nil, nil),
	prometheus.NewDesc("mailverify_dns_timeouts_total", "DNS queries that got no answer in time.", nil, nil),
	prometheus.NewDesc("mailverify_dns_retries_total", "DNS queries that repeated a question after a failed try.", nil, nil),
	prometheus.NewDesc("mailverify_dns_waits_total", "DNS queries that waited for a place: the most in flight per resolver server were.", nil, nil),
}

type dnsCollector struct {
	mu        sync.Mutex
	resolvers []*mx.DNS
}

func (c *dnsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range dnsDescs {
		ch <- d
	}
}

func (c *dnsCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	var sum [4]uint64
	for _, d := range c.resolvers {
		st := d.Stats()
		sum[0] += st.Queries
		sum[1] += st.Timeouts
		sum[2] += st.Retries
		sum[3] += st.Waits
	}
	c.mu.Unlock()
	for i, d := range dnsDescs {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(sum[i]))
	}
}
