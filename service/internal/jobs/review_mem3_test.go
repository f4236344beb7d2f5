package jobs

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mailverify/mailverify/verify"
	"github.com/nats-io/nats.go/jetstream"
)

// Adversarial review of mem3 (issue #25): the aggregator's position
// stored every 15 s (8429b09) and the per-subject limits on MV_STAGE and
// MV_RESULTS (c1c35d1).

// mem3Job is one job of the interleaved stream and what its entries
// should end as.
type mem3Job struct {
	id   string
	n    int
	next int // the next entry to store
}

// want: every 7th entry gets a dead letter (unknown) first, then the late
// worker's deliverable; the first stored wins.
func (j *mem3Job) want(i int) string {
	if i%7 == 3 {
		return "unknown"
	}
	return "deliverable"
}

// store stores entry j.next (and, for some, a copy after it).
func (j *mem3Job) store(t *testing.T, b *Bus) {
	t.Helper()
	i := j.next
	j.next++
	if j.want(i) == "unknown" {
		revStore(t, b, j.id, i, verify.Unknown) // the dead letter
	}
	revStore(t, b, j.id, i, verify.Deliverable) // the late worker (or the only result)
	if i%11 == 5 {
		revStore(t, b, j.id, i, verify.Undeliverable) // a redelivered task's second copy
	}
}

// mem3Counter counts OnDone calls and the results OnResult saw, across
// every aggregator the test starts.
type mem3Counter struct {
	mu     sync.Mutex
	done   map[string]int
	counts map[string]int
}

func (c *mem3Counter) aggregator() *Aggregator {
	return &Aggregator{
		OnDone: func(id string) {
			c.mu.Lock()
			c.done[id]++
			c.mu.Unlock()
		},
		OnResult: func(status, _ string) {
			c.mu.Lock()
			c.counts[status]++
			c.mu.Unlock()
		},
	}
}

// mem3Rewind stores a position as a kill inside the 15 s window leaves
// it: any sequence up to the last one stored (here picked at random, or
// the one just before a job's last result: a kill right after the job
// completed).
func mem3Rewind(t *testing.T, b *Bus, pos uint64) {
	t.Helper()
	if _, err := b.State.Put(context.Background(), positionKey, []byte(strconv.FormatUint(pos, 10))); err != nil {
		t.Fatal(err)
	}
}

// mem3Position is the aggregator's stored position.
func mem3Position(t *testing.T, b *Bus) uint64 {
	t.Helper()
	e, err := b.State.Get(context.Background(), positionKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.ParseUint(string(e.Value()), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestReviewMem3AggregatorKilledInTheWindow: four jobs interleave in the
// results stream (dead letters beside late workers, redelivered copies);
// the aggregator is stopped at random points, and each time the stored
// position is set back to what a kill inside the 15 s window could leave
// (a random earlier sequence, 0, or just before a job's completing
// result), once with the whole bus (the embedded server) reopened on the
// same directory. Every job ends done once: done counts, counts, OnDone
// (the webhook trigger) once a job, OnResult once a result, pages,
// export and downloads.
func TestReviewMem3AggregatorKilledInTheWindow(t *testing.T) {
	dir := t.TempDir()
	b := openBus(t, Config{Partitions: 2, DataDir: dir})
	defer func() { b.Close() }()
	rng := rand.New(rand.NewPCG(25, 8429))
	var jobs []*mem3Job
	for _, n := range []int{1, 257, 300, 513} {
		j, _ := revJob(t, b, n)
		jobs = append(jobs, &mem3Job{id: j.ID, n: n})
	}
	c := &mem3Counter{done: map[string]int{}, counts: map[string]int{}}
	stop := revAggregator(b, c.aggregator())
	round, reopened := 0, false
	for {
		var open []*mem3Job
		for _, j := range jobs {
			if j.next < j.n {
				open = append(open, j)
			}
		}
		if len(open) == 0 {
			break
		}
		// A run of results interleaved between the open jobs.
		for range 20 + rng.IntN(120) {
			if j := open[rng.IntN(len(open))]; j.next < j.n {
				j.store(t, b)
			}
		}
		round++
		if round%2 == 1 {
			// Let it count some of them (or all), then kill it.
			time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond)
		}
		stop()
		// What the stopped aggregator had counted (it stores that as it
		// stops); a kill leaves any earlier position.
		last := mem3Position(t, b)
		var pos uint64
		switch rng.IntN(3) {
		case 0:
			pos = 0
		case 1:
			pos = last - min(last, uint64(1+rng.IntN(300)))
		default:
			pos = last - min(last, 1) // just before the last result counted
		}
		mem3Rewind(t, b, pos)
		if !reopened && round >= 3 {
			reopened = true
			b.Close()
			b = openBus(t, Config{Partitions: 2, DataDir: dir})
		}
		stop = revAggregator(b, c.aggregator())
	}
	for _, j := range jobs {
		waitDone(t, b, j.id, 60*time.Second)
	}
	revWaitPosition(t, b)
	stop()
	// One more kill right after the last job completed.
	mem3Rewind(t, b, mem3Position(t, b)-1)
	stop = revAggregator(b, c.aggregator())
	revWaitPosition(t, b)
	stop()
	total := map[string]int{}
	for _, j := range jobs {
		revCheck(t, b, j.id, j.n, j.want)
		for i := range j.n {
			total[j.want(i)]++
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, j := range jobs {
		// Exactly once: a stop mid-update still reports what it counted
		// (Aggregator.settle; TestReviewMem3HooksLostOnStop).
		if c.done[j.id] != 1 {
			t.Errorf("job %s (%d entries): OnDone called %d times; want once", j.id, j.n, c.done[j.id])
		}
	}
	for st, n := range c.counts {
		if n != total[st] {
			t.Errorf("OnResult saw %d %s; want %d (each entry once)", n, st, total[st])
		}
	}
	t.Logf("%d rounds of kills", round)
}

// TestReviewMem3PositionBoundedWhileBusy: a busy aggregator (results
// arriving without a 100 ms gap, so never idle) still stores its position
// every positionEvery, so a kill rereads at most that much.
func TestReviewMem3PositionBoundedWhileBusy(t *testing.T) {
	b := openBus(t, Config{Partitions: 2})
	defer b.Close()
	old := positionEvery
	positionEvery = 500 * time.Millisecond
	defer func() { positionEvery = old }()
	j, _ := revJob(t, b, 10000)
	stop := revAggregator(b, nil)
	defer stop()
	start := time.Now()
	var moved int
	var prev uint64
	for i := 0; time.Since(start) < 3*time.Second && i < 10000; i++ {
		revStore(t, b, j.ID, i, verify.Deliverable)
		if i%50 != 0 {
			continue
		}
		if e, err := b.State.Get(context.Background(), positionKey); err == nil {
			if p, _ := strconv.ParseUint(string(e.Value()), 10, 64); p > prev {
				prev, moved = p, moved+1
			}
		}
	}
	if moved < 3 {
		t.Errorf("the stored position moved %d times in 3 s of results with positionEvery 500 ms; want at least 3", moved)
	}
}

// TestReviewMem3HooksLostOnStop: an aggregator stopped (SIGTERM, or the
// restarts above) while it applies a batch. The job's record is updated at
// the server, but the update returns the context's error, so apply returns
// before OnResult and OnDone; the next aggregator skips those results as
// counted. OnResult (serve's results metric) and OnDone (the completed-jobs
// metric and the webhook's prompt send) miss them for good. The same
// happens without a stop when the update's answer times out and apply is
// retried. Each result counted should reach OnResult once.
func TestReviewMem3HooksLostOnStop(t *testing.T) {
	b := openBus(t, Config{Partitions: 2})
	defer b.Close()
	rng := rand.New(rand.NewPCG(25, 3))
	c := &mem3Counter{done: map[string]int{}, counts: map[string]int{}}
	var ids []string
	total := 0
	for round := range 40 {
		j, _ := revJob(t, b, 200)
		ids = append(ids, j.ID)
		stop := revAggregator(b, c.aggregator())
		for i := range 200 {
			revStore(t, b, j.ID, i, verify.Deliverable)
		}
		total += 200
		time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
		stop() // mid-batch, in some rounds
		c.mu.Lock()
		lost := total - c.counts["deliverable"]
		c.mu.Unlock()
		if round%8 == 7 || lost > 0 {
			stop = revAggregator(b, c.aggregator())
			for _, id := range ids {
				waitDone(t, b, id, 30*time.Second)
			}
			revWaitPosition(t, b)
			stop()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var once int
	for _, id := range ids {
		if c.done[id] == 1 {
			once++
		}
	}
	if c.counts["deliverable"] != total || once != len(ids) {
		t.Errorf("OnResult saw %d of %d results; OnDone once for %d of %d jobs (every job is done)",
			c.counts["deliverable"], total, once, len(ids))
	}
}
