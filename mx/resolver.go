package mx

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"
)

// A Resolver answers the DNS questions a lookup asks. *net.Resolver
// satisfies it, and so does [*DNS], the default.
//
// Implementations must be safe for concurrent use and must report failures
// as *net.DNSError with IsNotFound, IsTimeout and IsTemporary set as
// *net.Resolver sets them, so that one error type is classified whichever
// resolver is plugged in. A name that does not exist (NXDOMAIN) and a name
// without records of the asked type (NODATA) are both IsNotFound; a
// resolver that can tell them apart says so with [ErrNoSuchDomain] or
// [ErrNoData] in the DNSError's UnwrapErr, as [*DNS] does. *net.Resolver
// cannot, so with it a domain without MX, A and AAAA records is reported as
// [NoMailServer] rather than [DomainNotFound].
type Resolver interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// An NSResolver answers NS questions too; [*DNS] and *net.Resolver do.
// The Verifier's risk signals use it when its Resolver has it.
type NSResolver interface {
	LookupNS(ctx context.Context, name string) ([]*net.NS, error)
}

// Errors that [*DNS] puts in a *net.DNSError's UnwrapErr, so callers can
// tell the outcomes apart with errors.Is.
var (
	// ErrNoSuchDomain: the name does not exist (RCODE NXDOMAIN).
	ErrNoSuchDomain = errors.New("no such domain")
	// ErrNoData: the name exists but has no records of the asked type.
	ErrNoData = errors.New("no records of the requested type")
	// ErrServerFailure: the server answered SERVFAIL, which is temporary.
	ErrServerFailure = errors.New("server failure")
	// ErrRefused: every server refused the query (RCODE REFUSED).
	ErrRefused = errors.New("query refused")
	// ErrMalformed: an answer could not be parsed, or did not answer the
	// question asked.
	ErrMalformed = errors.New("malformed answer")
)

// ttlResolver is implemented by resolvers that know how long their answers
// may be cached: [*DNS] reports record TTLs, and the negative TTL of RFC
// 2308 for NXDOMAIN and NODATA. Other resolvers get Client.DefaultTTL.
type ttlResolver interface {
	lookupMX(ctx context.Context, name string) ([]*net.MX, time.Duration, error)
	lookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, time.Duration, error)
}

// ttlOf adapts any Resolver to ttlResolver.
type ttlOf struct {
	r   Resolver
	ttl time.Duration
}

func (t ttlOf) lookupMX(ctx context.Context, name string) ([]*net.MX, time.Duration, error) {
	mxs, err := t.r.LookupMX(ctx, name)
	return mxs, t.ttl, err
}

func (t ttlOf) lookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, time.Duration, error) {
	ips, err := t.r.LookupNetIP(ctx, network, host)
	return ips, t.ttl, err
}

// isNotFound reports an IsNotFound *net.DNSError, and whether it is known to
// be NXDOMAIN.
func isNotFound(err error) (notFound, nxdomain bool) {
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsNotFound {
		return false, false
	}
	return true, errors.Is(err, ErrNoSuchDomain)
}
