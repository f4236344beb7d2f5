// Package mxtest provides a map-backed [mx.Resolver] for tests of code
// that looks up mail servers, so that they need no network.
package mxtest

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/mailverify/mailverify/mx"
)

// Resolver answers from maps keyed by lower-case names without the
// trailing dot. A name in no map does not exist (NXDOMAIN); a name present
// in one map but not the other has no records of the other type (NODATA).
// Errs overrides both for a name, e.g. with a temporary *net.DNSError.
//
// Resolver is safe for concurrent use once its maps are filled in; it
// counts the queries it answers.
type Resolver struct {
	MX    map[string][]*net.MX
	IP    map[string][]netip.Addr
	NS    map[string][]string // name servers, for LookupNS
	TXT   map[string][]string // TXT records, for LookupTXT
	CNAME map[string]string   // aliases, for LookupCNAME
	Errs  map[string]error

	mu      sync.Mutex
	queries map[string]int
}

var _ mx.Resolver = (*Resolver)(nil)

func key(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) }

func (r *Resolver) count(kind, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.queries == nil {
		r.queries = make(map[string]int)
	}
	r.queries[kind+" "+name]++
}

// Queries returns how many times kind ("MX", "IP" or "NS") was asked for name.
func (r *Resolver) Queries(kind, name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.queries[kind+" "+key(name)]
}

func (r *Resolver) exists(name string) bool {
	_, inMX := r.MX[name]
	_, inIP := r.IP[name]
	_, inNS := r.NS[name]
	_, inTXT := r.TXT[name]
	return inMX || inIP || inNS || inTXT
}

func (r *Resolver) notFound(name string) error {
	if r.exists(name) {
		return &net.DNSError{Err: "no such record", Name: name, IsNotFound: true, UnwrapErr: mx.ErrNoData}
	}
	return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true, UnwrapErr: mx.ErrNoSuchDomain}
}

// LookupMX implements [mx.Resolver].
func (r *Resolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	name = key(name)
	r.count("MX", name)
	if err := ctx.Err(); err != nil {
		return nil, &net.DNSError{Err: err.Error(), Name: name, IsTimeout: true, UnwrapErr: err}
	}
	if err := r.Errs[name]; err != nil {
		return nil, err
	}
	mxs, ok := r.MX[name]
	if !ok || len(mxs) == 0 {
		return nil, r.notFound(name)
	}
	out := make([]*net.MX, len(mxs))
	for i, m := range mxs {
		c := *m
		out[i] = &c
	}
	return out, nil
}

// LookupNetIP implements [mx.Resolver]; network "ip4" and "ip6" filter by
// family.
func (r *Resolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	host = key(host)
	r.count("IP", host)
	if err := ctx.Err(); err != nil {
		return nil, &net.DNSError{Err: err.Error(), Name: host, IsTimeout: true, UnwrapErr: err}
	}
	if err := r.Errs[host]; err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, ip := range r.IP[host] {
		if network == "ip" || network == "ip4" && ip.Is4() || network == "ip6" && ip.Is6() {
			out = append(out, ip)
		}
	}
	if len(out) == 0 {
		return nil, r.notFound(host)
	}
	return out, nil
}

// LookupNS implements mx.NSResolver from NS; a name without NS records
// has none (NODATA), or does not exist when it is in no map.
func (r *Resolver) LookupNS(ctx context.Context, name string) ([]*net.NS, error) {
	hosts, err := r.records("NS", r.NS, name)
	if err != nil {
		return nil, err
	}
	out := make([]*net.NS, len(hosts))
	for i, h := range hosts {
		out[i] = &net.NS{Host: h}
	}
	return out, nil
}

// LookupTXT implements mx.TXTResolver from TXT.
func (r *Resolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	return r.records("TXT", r.TXT, name)
}

// records answers a question of kind from m, counting it.
func (r *Resolver) records(kind string, m map[string][]string, name string) ([]string, error) {
	name = key(name)
	r.count(kind, name)
	if err := r.Errs[name]; err != nil {
		return nil, err
	}
	recs, ok := m[name]
	if !ok {
		return nil, r.notFound(name)
	}
	return recs, nil
}

// LookupCNAME implements mx.CNAMEResolver from CNAME; a name without one
// is its own canonical name.
func (r *Resolver) LookupCNAME(ctx context.Context, host string) (string, error) {
	name := key(host)
	r.count("CNAME", name)
	if err := r.Errs[name]; err != nil {
		return "", err
	}
	if t, ok := r.CNAME[name]; ok {
		return t, nil
	}
	return name + ".", nil
}
