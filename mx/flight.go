package mx

import "context"

// A flight is one lookup in progress, shared by the callers that asked
// for the same domain meanwhile. It runs under its own deadline, not the
// first caller's cancellation, and ends early once every caller has left:
// nobody is left to want the answer, and a lookup must not outlive all
// of its callers (a DNS server that never answers would hold it for the
// whole Timeout).
type flight struct {
	done    chan struct{}
	res     Result
	callers int
	cancel  context.CancelFunc
}

// join adds a caller to the flight for domain, starting it if none runs.
func (c *Client) join(ctx context.Context, domain string) *flight {
	c.flightMu.Lock()
	defer c.flightMu.Unlock()
	if f := c.flights[domain]; f != nil {
		f.callers++
		return f
	}
	// A flight that ended since the caller missed the cache has filled
	// it (the flight puts its answer before it leaves c.flights): no
	// second query for the same domain.
	if c.cache != nil {
		if r, ok := c.cache.get(domain, c.now()); ok {
			f := &flight{done: make(chan struct{}), res: r, callers: 1, cancel: func() {}}
			close(f.done)
			return f
		}
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout())
	f := &flight{done: make(chan struct{}), callers: 1, cancel: cancel}
	if c.flights == nil {
		c.flights = map[string]*flight{}
	}
	c.flights[domain] = f
	go func() {
		defer cancel()
		r := c.resolve(wctx, domain)
		r.TTL = min(r.TTL, c.maxTTL())
		if c.cache != nil && r.Status != Temporary && r.TTL > 0 {
			c.cache.put(domain, r, c.now().Add(r.TTL))
		}
		c.flightMu.Lock()
		if c.flights[domain] == f {
			delete(c.flights, domain)
		}
		c.flightMu.Unlock()
		f.res = r
		close(f.done)
	}()
	return f
}

// leave removes a caller from f, ending the lookup when it was the last.
func (c *Client) leave(domain string, f *flight) {
	c.flightMu.Lock()
	defer c.flightMu.Unlock()
	if f.callers--; f.callers > 0 {
		return
	}
	if c.flights[domain] == f {
		delete(c.flights, domain) // a later caller starts afresh
	}
	f.cancel()
}
