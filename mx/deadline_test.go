package mx

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testdns"
	"github.com/miekg/dns"
)

// TestDNSKeepsTheContextDeadline: against servers that never answer, no
// retry and no per-query timeout of DNS runs past the context's deadline,
// even when one query's Timeout alone is longer than it (issue #22,
// defect 7). The error is a timeout.
func TestDNSKeepsTheContextDeadline(t *testing.T) {
	addr, stop, err := testdns.Start(dns.HandlerFunc(func(dns.ResponseWriter, *dns.Msg) {}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	// The slack allows a loaded machine's scheduling delay (CI saw 240 ms
	// with every package's tests running); the faults this test is about
	// overrun by a query's Timeout (5 s).
	const budget, slack = time.Second, 400 * time.Millisecond
	d := &DNS{Servers: []string{addr, addr}, Timeout: 5 * time.Second, Attempts: 3}
	for _, tc := range []struct {
		name string
		ask  func(context.Context) error
	}{
		{"MX", func(ctx context.Context) error { _, err := d.LookupMX(ctx, "dnstimeout.example"); return err }},
		{"A/AAAA", func(ctx context.Context) error { _, err := d.LookupNetIP(ctx, "ip", "dnstimeout.example"); return err }},
		{"NS", func(ctx context.Context) error { _, err := d.LookupNS(ctx, "dnstimeout.example"); return err }},
		{"Client", func(ctx context.Context) error {
			_, err := (&Client{Resolver: d}).Lookup(ctx, "dnstimeout.example")
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), budget)
			defer cancel()
			start := time.Now()
			err := tc.ask(ctx)
			if el := time.Since(start); el > budget+slack {
				t.Errorf("returned after %v, want within %v", el, budget+slack)
			}
			var de *net.DNSError
			if !errors.Is(err, context.DeadlineExceeded) && !(errors.As(err, &de) && de.IsTimeout) {
				t.Errorf("err = %v, want a timeout", err)
			}
		})
	}
}
