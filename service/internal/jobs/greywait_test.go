package jobs

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/service/internal/fakeworld"
)

// TestGreylistedAreCounted: while a job's addresses wait for their
// greylisting retry, GET /v1/jobs/{id} (Bus.Get) counts them, with the
// earliest retry; once they are verified the count goes, and a finished
// job has none.
func TestGreylistedAreCounted(t *testing.T) {
	w := fakeworld.New()
	t.Cleanup(w.Close) // after the stack's workers stop (t.Cleanup runs last-first)
	inner := testsmtp.Mailboxes("jane@grey.com", "bob@grey.com").Handlers["RCPT"]
	var mu sync.Mutex
	seen := map[string]bool{}
	w.Route("grey.com", w.Server(&testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": func(c *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
		mu.Lock()
		first := !seen[cmd.Arg]
		seen[cmd.Arg] = true
		mu.Unlock()
		if first {
			return testsmtp.R(450, "4.2.0", "Recipient address rejected: Greylisted, try again in 6 seconds")
		}
		return inner(c, cmd)
	}}}))
	w.Route("example.com", w.Server(testsmtp.Mailboxes("ann@example.com")))
	b := openBus(t, Config{Partitions: 2})
	defer b.Close()
	startStack(t, b, w, nil)
	ctx := context.Background()
	j, err := b.Submit(ctx, Spec{}, lines([]string{"jane@grey.com", "ann@example.com", "bob@grey.com", "nobody@grey.com"}))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	var most int
	for {
		got, err := b.Get(ctx, "", j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Greylisted > most {
			most = got.Greylisted
			if got.NextRetry == nil || got.NextRetry.Before(time.Now().Add(-2*time.Second)) || got.NextRetry.After(time.Now().Add(time.Minute)) {
				t.Errorf("%d greylisted with the next retry at %v; want one within the minute", got.Greylisted, got.NextRetry)
			}
		}
		if got.State == Done {
			if got.Greylisted != 0 || got.NextRetry != nil {
				t.Errorf("a finished job has %d greylisted (next retry %v)", got.Greylisted, got.NextRetry)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s is %s after 30 s, %d of %d", j.ID, got.State, got.Done, got.Total)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if most != 3 {
		t.Errorf("at most %d addresses were counted waiting; want the 3 of grey.com", most)
	}
}
