package verify

import (
	"errors"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/catchall"
	"github.com/mailverify/mailverify/mx"
)

// Defect 10: misconfiguration is an error, not a verdict.
func TestMisconfiguration(t *testing.T) {
	for _, v := range []*Verifier{
		{HELO: "bad helo"},
		{HELO: "mx.example.org\r\nRSET"},
		{HELO: "[300.1.1.1]"},
		{MailFrom: "not an address"},
		{MailFrom: "<me@example.org"},
		{MailFrom: "jörg@example.org"},
		{Timeout: -time.Second},
		{PerHostRate: math.NaN()},
		{PerHostRate: math.Inf(1)},
		{ProviderProbeRate: math.NaN()},
	} {
		if err := v.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("Validate(%+v) = %v, want ErrConfig", v, err)
		}
		if _, err := v.Verify(t.Context(), "jane@example.com"); !errors.Is(err, ErrConfig) {
			t.Errorf("Verify with %q/%q: %v, want ErrConfig", v.HELO, v.MailFrom, err)
		}
		n := 0
		for _, r := range v.VerifyAll(t.Context(), []string{"a@example.com", "b@example.com"}) {
			if !errors.Is(r.Err, ErrConfig) || r.Status != Unknown {
				t.Errorf("VerifyAll result %+v without the configuration error", r)
			}
			n++
		}
		if n != 2 {
			t.Errorf("misconfigured VerifyAll yielded %d results for 2 addresses", n)
		}
	}
	for _, v := range []*Verifier{{HELO: "mx.example.org"}, {HELO: "[192.0.2.1]"}, {HELO: "[IPv6:2001:db8::1]"}, {HELO: "localhost"}, {MailFrom: "<>"}, {MailFrom: "<me@example.org>"}} {
		if err := v.Validate(); err != nil {
			t.Errorf("Validate(%q, %q) = %v", v.HELO, v.MailFrom, err)
		}
	}
	synctest.Test(t, func(t *testing.T) {
		w := standardWorld()
		defer w.router.close()
		v := w.verifier()
		v.MailFrom = " <bounce@verifier.example.net> "
		if r, _ := v.Verify(t.Context(), "jane@example.com"); r.Status != Deliverable {
			t.Errorf("bracketed MAIL FROM: %v/%v %v", r.Status, r.Reason, r.Err)
		}
		found := false
		for _, l := range w.router["127.0.1.1:25"].Transcript() {
			found = found || l == "C: MAIL FROM:<bounce@verifier.example.net>"
		}
		if !found {
			t.Error("MAIL FROM not sent as typed without its brackets")
		}
	})
}

// Defect 11: a resolver that answers NXDOMAIN for everything.
func TestLyingResolver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld() // no gmail.com: every name is NXDOMAIN
		defer w.router.close()
		v := w.verifier()
		r, _ := v.Verify(t.Context(), "jane@gmail.com")
		if r.Status != Unknown || r.Reason != ReasonDNSError || !errors.Is(r.Err, mx.ErrUntrustedResolver) {
			t.Errorf("via a lying resolver: %v/%v %v", r.Status, r.Reason, r.Err)
		}
		w.add("gmail.com", nil)
		w.res.MX["gmail.com"][0].Host = "gmail-smtp-in.l.google.com"
		v = w.verifier()
		if r, _ := v.Verify(t.Context(), "jane@missing.com"); r.Reason != ReasonDomainNotFound {
			t.Errorf("via a sane resolver: %v/%v %v", r.Status, r.Reason, r.Err)
		}
	})
}

// SkipCatchAll gives no definite verdict on an acceptance.
func TestSkipCatchAllIsNotDeliverable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := standardWorld()
		defer w.router.close()
		v := w.verifier()
		v.SkipCatchAll = true
		if r, _ := v.Verify(t.Context(), "jane@catchall.com"); r.Status != Unknown || r.Reason != ReasonCannotVerify || r.CatchAll != catchall.Unknown {
			t.Errorf("catch-all domain with the probe skipped: %v/%v", r.Status, r.Reason)
		}
		if r, _ := v.Verify(t.Context(), "jane@gmail.com"); r.Status != Deliverable {
			t.Errorf("gmail.com with the probe skipped: %v/%v", r.Status, r.Reason)
		}
	})
}

func TestLimitsFillDefaults(t *testing.T) {
	var nilV *Verifier
	want := Limits{PerHost: 2, PerHostRate: 10, Concurrency: 16, MaxRcpts: 20}
	if got := nilV.Limits(); got != want {
		t.Errorf("nil Verifier: Limits() = %+v, want %+v", got, want)
	}
	if got := (&Verifier{}).Limits(); got != want {
		t.Errorf("zero Verifier: Limits() = %+v, want %+v", got, want)
	}
	v := &Verifier{PerHost: 1, PerHostRate: 2.5, Concurrency: 3, MaxRcpts: 4}
	if got := v.Limits(); got != (Limits{PerHost: 1, PerHostRate: 2.5, Concurrency: 3, MaxRcpts: 4}) {
		t.Errorf("set fields: Limits() = %+v", got)
	}
}
