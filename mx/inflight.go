package mx

import (
	"context"
	"sync/atomic"
	"time"
)

// defaultMaxInFlight is the queries in flight to one server when
// DNS.MaxInFlight is zero: half of the 64 that a recursive server commonly
// works on per thread (unbound's num-queries-per-thread in small builds),
// past which it drops or jostles out queries, which the client sees as
// timeouts.
const defaultMaxInFlight = 32

// minTry is the shortest time one try is given when a retry has to fit in
// what is left of the caller's deadline.
const minTry = 250 * time.Millisecond

// DNSStats counts what a [DNS] did since it was made.
type DNSStats struct {
	// Queries is the tries sent (each server asked, each retry, counts).
	Queries uint64
	// Timeouts is the tries that got no answer in time.
	Timeouts uint64
	// Retries is the tries that repeated a question after a failed try
	// (a timeout, SERVFAIL, REFUSED), on the next server when there are
	// several.
	Retries uint64
	// Waits is the tries that waited for a place because MaxInFlight
	// queries to that server were in flight.
	Waits uint64
}

// dnsCounters are the atomic counters behind DNSStats.
type dnsCounters struct {
	queries, timeouts, retries, waits atomic.Uint64
}

// Stats returns the counts so far. Safe for concurrent use.
func (d *DNS) Stats() DNSStats {
	return DNSStats{
		Queries:  d.counts.queries.Load(),
		Timeouts: d.counts.timeouts.Load(),
		Retries:  d.counts.retries.Load(),
		Waits:    d.counts.waits.Load(),
	}
}

func (d *DNS) maxInFlight() int {
	if d.MaxInFlight > 0 {
		return d.MaxInFlight
	}
	return defaultMaxInFlight
}

// acquire takes a place among the queries in flight to server, waiting
// while MaxInFlight are; it fails only when ctx ends first. serverList has
// made the places.
func (d *DNS) acquire(ctx context.Context, server string) (release func(), err error) {
	sem := d.inFlight[server]
	select {
	case sem <- struct{}{}:
	default:
		d.counts.waits.Add(1)
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return func() { <-sem }, nil
}

// tryTimeout is the time one try gets: Timeout, or less when a later try
// (left of them) has to fit before ctx's deadline too. A server that let
// one query time out often answers the same question at once when asked
// again (it went on resolving it), or the next server does.
func (d *DNS) tryTimeout(ctx context.Context, left int) time.Duration {
	t := d.timeout()
	dl, ok := ctx.Deadline()
	if !ok || left < 2 {
		return t
	}
	share := time.Until(dl) / 2
	if share < t {
		return max(share, minTry)
	}
	return t
}
