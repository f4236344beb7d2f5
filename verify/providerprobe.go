package verify

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// A ProviderProbe is a caller's own way to ask a provider whether an
// account exists, for the addresses SMTP cannot settle (catch_all,
// cannot_verify). Account-existence side channels (login pages, recovery
// flows, file-sharing URLs) break often and are seen as reconnaissance by
// the providers' defenders, so the library ships none: plugging one in,
// and the consequences, are the caller's. The Verifier calls it at most
// ProviderProbeRate times a second (zero: 1), within the verification's
// context.
type ProviderProbe interface {
	Probe(ctx context.Context, address, provider string) (ProbeAnswer, error)
}

// A ProbeAnswer is what a ProviderProbe found.
type ProbeAnswer struct {
	// Exists is Positive, Negative or Indeterminate.
	Exists ProbeResult
	// Method says how the probe knows, for the evidence ("login page").
	Method string
}

// ProbeResult is a ProviderProbe's finding.
type ProbeResult int

// The findings of a ProviderProbe.
const (
	Indeterminate ProbeResult = iota
	Positive
	Negative
)

// ReasonProviderConfirmed: SMTP could not tell, and the caller's
// ProviderProbe said the account exists (Result.ProviderProbe says how).
const ReasonProviderConfirmed Reason = "provider_confirmed"

// ProbeEvidence is a ProviderProbe's answer in a Result.
type ProbeEvidence struct {
	Exists string `json:"exists"` // positive, negative
	Method string `json:"method,omitempty"`
}

type probeLimiter struct {
	once sync.Once
	lim  *rate.Limiter
}

// applyProviderProbe asks the caller's probe about an acceptance that
// proved nothing: positive makes it deliverable/provider_confirmed,
// negative undeliverable/mailbox_not_found; indeterminate leaves it.
func (v *Verifier) applyProviderProbe(ctx context.Context, j *job) {
	r := &j.res
	if v.ProviderProbe == nil || !provesNothing(r.Reason) {
		return
	}
	v.probeLim.once.Do(func() {
		v.probeLim.lim = rate.NewLimiter(rate.Limit(orDefault(v.ProviderProbeRate, 1)), 1)
	})
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if v.probeLim.lim.Wait(ctx) != nil {
		return
	}
	ans, err := v.ProviderProbe.Probe(ctx, r.Address, r.Provider)
	if err != nil {
		return
	}
	switch ans.Exists {
	case Positive:
		r.Status, r.Reason = Deliverable, ReasonProviderConfirmed
		r.ProviderProbe = &ProbeEvidence{Exists: "positive", Method: ans.Method}
	case Negative:
		r.Status, r.Reason = Undeliverable, ReasonMailboxNotFound
		r.ProviderProbe = &ProbeEvidence{Exists: "negative", Method: ans.Method}
	}
}
