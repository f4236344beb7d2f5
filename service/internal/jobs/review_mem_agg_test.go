package jobs

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailverify/mailverify/verify"
)

// lockedBuf is a log destination safe for the aggregator's goroutines.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestReviewMemTailCopyDeletedByTheOther: two serve processes run an
// aggregator each (the runbook's setup). A late copy is the stream's last
// message; one aggregator deletes it before the other's pull reaches it.
// The other is then at a position below the stream's last sequence with
// nothing left to deliver: it must not take that for a lost pull again
// and again (a new consumer each time, logged as a warning from the
// second on) while the service sits idle.
//
// The other aggregator's view is set up as it is at that moment: it has
// read up to the message before the copy (its position), and the copy is
// gone.
func TestReviewMemTailCopyDeletedByTheOther(t *testing.T) {
	b := openBus(t, Config{Partitions: 2})
	defer b.Close()
	ctx := context.Background()
	const n = 20
	j, _ := revJob(t, b, n)
	stop := revAggregator(b, nil)
	for i := range n {
		revStore(t, b, j.ID, i, verify.Deliverable)
	}
	waitDone(t, b, j.ID, 30*time.Second)
	revWaitPosition(t, b)
	revStore(t, b, j.ID, 3, verify.Unknown) // the late copy, deleted by the first aggregator
	revWaitPosition(t, b)
	stop()
	s, err := b.JS.Stream(ctx, ResultsStream)
	if err != nil {
		t.Fatal(err)
	}
	info := s.CachedInfo().State
	if info.Msgs != n {
		t.Fatalf("the stream holds %d results; want %d (the copy deleted)", info.Msgs, n)
	}
	// The second aggregator had read everything before the copy.
	if _, err := b.State.Put(ctx, positionKey, fmt.Appendf(nil, "%d", info.LastSeq-1)); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuf{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	stop = revAggregator(b, &Aggregator{Logger: logger})
	time.Sleep(2500 * time.Millisecond)
	stop()
	restarts := strings.Count(logs.String(), "starting a new consumer")
	warnings := strings.Count(logs.String(), "level=WARN")
	if restarts > 1 || warnings > 0 {
		t.Errorf("idle for 2.5 s at a position below a deleted copy: %d new consumers, %d warnings; want at most 1 and none:\n%s",
			restarts, warnings, logs.String())
	}
}

// TestReviewMemExportAcrossADeletedCopy: an export reads a done job while
// a late copy of one of its results (the stream's last message) arrives
// and the aggregator deletes it. The export must end with every entry
// once, not wait for the copy and fail ("the results stopped coming
// before the last").
func TestReviewMemExportAcrossADeletedCopy(t *testing.T) {
	b := openBus(t, Config{Partitions: 2})
	defer b.Close()
	ctx := context.Background()
	const n = 1000 // the export's first pull: the copy is just past it
	j, _ := revJob(t, b, n)
	for i := range n {
		revStore(t, b, j.ID, i, verify.Deliverable)
	}
	revStore(t, b, j.ID, 7, verify.Unknown) // the late copy
	var stop func()
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	v := &revView{status: map[int]string{}}
	err := b.Export(ctx, "", j.ID, func(r []byte) error {
		if stop == nil {
			// The aggregator counts the job and deletes the copy while
			// the export holds its first batch.
			stop = revAggregator(b, nil)
			waitDone(t, b, j.ID, 30*time.Second)
			revWaitPosition(t, b)
		}
		return v.add(r)
	})
	if err != nil || len(v.status) != n || len(v.twice) > 0 {
		t.Errorf("export: %d entries (%v twice), %v; want %d, no error", len(v.status), v.twice, err, n)
	}
}

// TestReviewMemDeletedTailWithOneAggregator: one serve process. A job is
// deleted while its last results are not counted yet (the aggregator
// lags, or is restarting): they are purged, and the stream's last
// sequence stays past the aggregator's position with nothing left to
// deliver. The aggregator must not restart its consumer again and again,
// with warnings, while idle.
func TestReviewMemDeletedTailWithOneAggregator(t *testing.T) {
	b := openBus(t, Config{Partitions: 2})
	defer b.Close()
	ctx := context.Background()
	j, _ := revJob(t, b, 50)
	for i := range 50 {
		revStore(t, b, j.ID, i, verify.Deliverable)
	}
	if err := b.Delete(ctx, "", j.ID); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuf{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	stop := revAggregator(b, &Aggregator{Logger: logger})
	time.Sleep(2500 * time.Millisecond)
	stop()
	restarts := strings.Count(logs.String(), "starting a new consumer")
	warnings := strings.Count(logs.String(), "level=WARN")
	if restarts > 1 || warnings > 0 {
		t.Errorf("idle for 2.5 s after the purge of uncounted results: %d new consumers, %d warnings; want at most 1 and none:\n%s",
			restarts, warnings, logs.String())
	}
}
