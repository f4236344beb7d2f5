package mx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// ErrUntrustedResolver reports a resolver that answered NXDOMAIN for a
// domain while it also denies the Client's canary, a domain that surely
// exists: captive portals, sandboxes and filtering resolvers answer so for
// every name, and their NXDOMAIN is no evidence that a domain is missing.
var ErrUntrustedResolver = errors.New("mx: the resolver denies a domain that exists")

const defaultCanary = "gmail.com"

// canaryState caches whether the resolver answered the canary.
type canaryState struct {
	err     error // nil: the resolver is sane
	expires time.Time
}

func (c *Client) canary() string {
	if c.Canary != "" {
		return c.Canary
	}
	return defaultCanary
}

// trustNXDOMAIN returns nil when an NXDOMAIN from the resolver may be
// believed: the canary domain has MX records. The answer is cached for 10
// minutes when sane and 30 seconds when not, and concurrent checks share
// one query.
func (c *Client) trustNXDOMAIN(ctx context.Context, domain string) error {
	name := c.canary()
	if name == "-" {
		return nil
	}
	if domain == name {
		return fmt.Errorf("%w: it denies %s, which is the canary", ErrUntrustedResolver, name)
	}
	c.canaryMu.Lock()
	st := c.canaryState
	c.canaryMu.Unlock()
	if c.now().Before(st.expires) {
		return st.err
	}
	v, _, _ := c.group.Do("\x00canary", func() (any, error) {
		mxs, _, err := c.res.lookupMX(ctx, name)
		st := canaryState{expires: c.now().Add(10 * time.Minute)}
		switch {
		case err != nil:
			if nf, _ := isNotFound(err); nf {
				st.err = fmt.Errorf("%w: it has no MX for %s either", ErrUntrustedResolver, name)
			} else {
				st.err = fmt.Errorf("%w: it could not answer for %s: %v", ErrUntrustedResolver, name, err)
			}
		case !hasRealMX(mxs):
			st.err = fmt.Errorf("%w: it has no MX for %s either", ErrUntrustedResolver, name)
		}
		if st.err != nil {
			st.expires = c.now().Add(30 * time.Second)
		}
		c.canaryMu.Lock()
		c.canaryState = st
		c.canaryMu.Unlock()
		return st.err, nil
	})
	err, _ := v.(error)
	return err
}

// hasRealMX reports whether mxs has a record other than a null MX.
func hasRealMX(mxs []*net.MX) bool {
	for _, m := range mxs {
		if m != nil && !isNullHost(m.Host) {
			return true
		}
	}
	return false
}

// isNullHost reports the host of a null MX record (RFC 7505): ".".
func isNullHost(h string) bool { return h == "." || h == "" }
