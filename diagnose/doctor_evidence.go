package diagnose

import (
	"context"
	"net"
	"strings"

	"github.com/mailverify/mailverify/mx"
)

// reputationChecks asks the blocklists about the egress address.
func (d *doctorRun) reputationChecks(ctx context.Context) {
	zones := d.cfg.DNSBL
	if zones == nil {
		zones = DefaultDNSBL
	}
	ip := net.ParseIP(d.info.Address)
	switch {
	case len(zones) == 0:
		return
	case ip == nil:
		d.add(Check{ID: "blocklist", Section: SecReputation, Result: Info, Finding: "not checked: the egress address is unknown"})
		return
	case ip.To4() == nil:
		d.add(Check{ID: "blocklist", Section: SecReputation, Result: Info, Target: ip.String(),
			Finding: "not checked: the blocklists are asked about IPv4 addresses only"})
		return
	}
	bl := newBlocklists(d.q, SecReputation, d.cfg.SpamhausDQSKey)
	for _, z := range zones {
		d.add(bl.check(ctx, ip.To4(), z))
	}
}

// evidenceChecks reports the block and throttle replies recent runs saw.
func (d *doctorRun) evidenceChecks(ctx context.Context) {
	c := Check{ID: "evidence.recent", Section: SecEvidence, Result: Info}
	if d.cfg.Recent == nil {
		c.Finding = "no record of recent runs was given (mailverify doctor --egress-state FILE reads what a run kept; the service reads its egress store)"
		d.add(c)
		return
	}
	events, err := d.cfg.Recent(ctx, d.egress.ID())
	switch {
	case err != nil:
		c.Finding = "the record of recent runs could not be read: " + err.Error()
		d.add(c)
		return
	case len(events) == 0:
		c.Result, c.Finding = Pass, "recent runs saw no block or throttle reply"
		d.add(c)
		return
	}
	for _, e := range events {
		d.add(explainEvent(e))
	}
}

// explainEvent says what a block or throttle reply means and what to do.
func explainEvent(e Event) Check {
	provider := e.Provider
	if provider == "" {
		provider = string(mx.ProviderOf(e.Server))
	}
	who := e.Server
	if provider != "" {
		who += " (" + provider + ")"
	}
	c := Check{ID: "evidence." + e.Kind, Section: SecEvidence, Target: e.Server, Result: Warn,
		Evidence: []string{e.Time.UTC().Format("2006-01-02T15:04:05Z") + " " + e.Reply}}
	lower := strings.ToLower(e.Reply)
	switch {
	case e.Kind == "throttle":
		c.Finding = who + " slowed this egress down (a temporary refusal for volume)"
		c.Why = "The server takes fewer connections or recipients from the address than the runs tried."
		c.Fix = "Lower the connections and rate per server; spread the list over more time or egresses."
	case e.Kind == "soft_limit":
		c.Finding = who + " began accepting every address from this egress (a random address it had refused was accepted)"
		c.Why = "A server that tires of a prober may answer 250 to everyone; its acceptances then prove nothing, and they came back unknown/soft_limited."
		c.Fix = "Send less to this provider from this egress (lower its budget in the profiles), or spread the list over more egresses."
	case strings.Contains(lower, "spamhaus") || strings.Contains(lower, "blocklist") || strings.Contains(lower, "blacklist") || strings.Contains(lower, "rbl"):
		c.Result, c.Finding = Fail, who+" refused this egress because its address is on a blocklist"
		c.Why = "Until it is delisted, that server and others that use the list refuse the probes."
		c.Fix = "See the reputation section for the list and its delisting page."
	default:
		c.Result, c.Finding = Fail, who+" refused this egress"
		c.Why = "The server blocks the address (reputation, reverse DNS or volume); its probes come back unknown."
		c.Fix = "Read the reply; fix the identity section's failures, or use another egress for this provider."
	}
	return c
}
