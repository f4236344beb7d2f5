package verify

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/egress"
)

// TestTakeBudgetPastTheDeadline: a flush whose budget refills only after
// the address's deadline fails at once with an *egress.UnavailableError
// that says when the budget refills (so the address ends
// unknown/rate_limited with retry_after), instead of waiting out the
// deadline and ending as a timeout. A refill within the deadline is
// waited for.
func TestTakeBudgetPastTheDeadline(t *testing.T) {
	const prof = `{"about": "test", "profiles": [{"provider": "default", "per_minute": 2, "per_hour": 100, "per_day": 1000, "sessions": 1,
 "sources": {"per_minute": "test", "per_hour": "test", "per_day": "test", "sessions": "test"}}]}`
	profiles, err := egress.ParseProfiles(strings.NewReader(prof))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	clock := func() time.Time { return now }
	r, err := egress.NewRouter(nil, nil, &egress.Budgets{Profiles: profiles, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	l, err := r.Route("", "192.0.2.1:25")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if err := takeBudget(context.Background(), l, 2); err != nil {
		t.Fatalf("the first two RCPTs: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	err = takeBudget(ctx, l, 1)
	if el := time.Since(start); el > time.Second {
		t.Errorf("took %v: waited for a deadline the refill comes after", el)
	}
	var ue *egress.UnavailableError
	if !errors.As(err, &ue) || ue.Blocked || ue.NoEgress {
		t.Fatalf("err %v; want an *egress.UnavailableError for the budget", err)
	}
	if ue.Until.Before(now.Add(50*time.Second)) || ue.Until.After(now.Add(2*time.Minute)) {
		t.Errorf("until %v; want the minute window's refill, about %v", ue.Until, now.Add(time.Minute))
	}
}
