package verify

import (
	"context"
	"net/netip"
	"strings"
	"time"

	"github.com/mailverify/mailverify/catchall"
	"github.com/mailverify/mailverify/mx"
	"github.com/mailverify/mailverify/risk"
	"github.com/mailverify/mailverify/smtpprobe"
)

// ReasonParkedDomain: the domain is parked or for sale at a parking or
// domain-marketplace service (risk.parked says which, and what DNS
// showed), and nothing better is known of the mailbox. Such domains with
// mail servers are a classic recycled-trap and typo-trap setup.
const ReasonParkedDomain Reason = "parked_domain"

// riskTTL is how long a domain's parking evidence is kept.
const riskTTL = time.Hour

type riskEntry struct {
	ev      *risk.Evidence
	expires time.Time
}

// parked asks DNS for the domain's name servers, addresses and CNAME and
// matches them against the parking table, once per domain per riskTTL.
// DNS failures leave the domain unflagged; a lookup that ctx cut short
// is not cached.
func (v *Verifier) parked(ctx context.Context, domain string) *risk.Evidence {
	now := time.Now()
	v.mu.Lock()
	if e, ok := v.riskCache[domain]; ok && now.Before(e.expires) {
		v.mu.Unlock()
		return e.ev
	}
	v.mu.Unlock()
	res := v.Resolver
	if res == nil {
		res = v.defaultDNS
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var obs risk.Observed
	nsDone := make(chan struct{})
	go func() {
		defer close(nsDone)
		if nr, ok := res.(mx.NSResolver); ok {
			if nss, err := nr.LookupNS(ctx, domain); err == nil {
				for _, ns := range nss {
					obs.NS = append(obs.NS, ns.Host)
				}
			}
		}
	}()
	if addrs, err := res.LookupNetIP(ctx, "ip", domain); err == nil {
		obs.Addrs = append([]netip.Addr(nil), addrs...)
	}
	if cr, ok := res.(mx.CNAMEResolver); ok {
		if target, err := cr.LookupCNAME(ctx, domain); err == nil && !strings.EqualFold(strings.TrimSuffix(target, "."), domain) {
			obs.CNAME = target
		}
	}
	<-nsDone
	p := v.Parking
	if p == nil {
		p = risk.DefaultParking
	}
	ev := p.Match(obs)
	if ev == nil && ctx.Err() != nil {
		return nil // cut short by the budget: not an answer, do not cache
	}
	v.mu.Lock()
	if v.riskCache == nil || len(v.riskCache) > 10000 {
		v.riskCache = map[string]riskEntry{}
	}
	v.riskCache[domain] = riskEntry{ev, now.Add(riskTTL)}
	v.mu.Unlock()
	return ev
}

// riskVerdict adds the risk flags an SMTP answer calls for, and the
// verdicts they change:
//   - a Microsoft 365 host that accepted the random address accepts every
//     recipient by policy and bounces later: unknown/cannot_verify with
//     accepts_all_by_policy, not risky/catch_all;
//   - a typo domain of a major provider whose server accepted the address
//     is flagged typo_trap;
//   - a parked domain is flagged, and an answer that proves nothing
//     (catch_all, cannot_verify) becomes risky/parked_domain; a temporary
//     unknown (greylisted, timeout, ...) stays, to be tried again; a
//     definite verdict stands.
func (v *Verifier) riskVerdict(j *job) {
	r := &j.res
	var prov mx.Provider
	if j.d != nil {
		prov = j.d.mr.Provider
	}
	accepted := j.out != nil && j.out.Outcome == smtpprobe.Accepted
	flags := r.Risk
	if flags == nil {
		flags = &risk.Risk{}
	}
	if accepted && r.CatchAll == catchall.Yes && prov == mx.Microsoft365 {
		r.Status, r.Reason = Unknown, ReasonCannotVerify
		flags.AcceptsAllByPolicy = &risk.Evidence{Service: string(prov),
			Seen: []string{"MX " + j.host, "the random address was accepted"}, Source: "Exchange Online without directory-based edge blocking"}
	}
	if accepted && r.Suggestion != "" {
		flags.TypoTrap = &risk.Evidence{Seen: []string{"one edit from " + r.Suggestion, "RCPT accepted by " + j.host}}
	}
	if j.d != nil {
		flags.Listed, flags.NewDomain = j.d.signals.listed, j.d.signals.young
		if p := j.d.signals.parked; p != nil {
			flags.Parked = p
			if provesNothing(r.Reason) {
				r.Status, r.Reason = Risky, ReasonParkedDomain
			}
		}
	}
	if !flags.Empty() {
		r.Risk = flags
	}
}

// provesNothing reports the reasons of a server that takes the address
// without saying whether the mailbox exists: it accepts everyone, could
// not be shown not to, or answered 252; on a parked domain, the same.
func provesNothing(r Reason) bool {
	return r == ReasonCatchAll || r == ReasonCannotVerify || r == ReasonParkedDomain
}

func (v *Verifier) disposableMX() *risk.DisposableMX {
	if v.DisposableMX != nil {
		return v.DisposableMX
	}
	return risk.DefaultDisposableMX
}

func hostNames(hs []mx.Host) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.Name
	}
	return out
}

// withFlag returns r (new when nil) with set applied.
func withFlag(r *risk.Risk, set func(*risk.Risk)) *risk.Risk {
	if r == nil {
		r = &risk.Risk{}
	}
	set(r)
	return r
}
