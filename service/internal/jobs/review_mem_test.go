package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mailverify/mailverify/verify"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Adversarial review of results by block (issue #25 item 8): helpers.

// revAggregator runs an aggregator until the returned stop is called.
func revAggregator(b *Bus, a *Aggregator) (stop func()) {
	if a == nil {
		a = &Aggregator{}
	}
	a.Bus = b
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = a.Run(ctx) })
	return func() { cancel(); wg.Wait() }
}

// revJob submits a job of n addresses (nothing verifies them: the tests
// store the results themselves).
func revJob(t *testing.T, b *Bus, n int) (*Job, []string) {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("user%d@example.com", i)
	}
	j, err := b.Submit(context.Background(), Spec{}, lines(addrs))
	if err != nil {
		t.Fatal(err)
	}
	return j, addrs
}

// revStore stores entry i's result with status st, in the new layout.
func revStore(t *testing.T, b *Bus, job string, i int, st verify.Status) {
	t.Helper()
	r := verify.Result{Input: fmt.Sprintf("user%d@example.com", i), Status: st}
	if _, err := b.storeResult(context.Background(), task{Job: job, Index: i}, r); err != nil {
		t.Fatal(err)
	}
}

// revStoreOld stores entry i's result as the code before blocks did: a
// subject per entry, expected empty, with the Mv-Index header.
func revStoreOld(t *testing.T, b *Bus, job string, i int, st verify.Status) {
	t.Helper()
	r := verify.Result{Input: fmt.Sprintf("user%d@example.com", i), Status: st}
	m := nats.NewMsg(entrySubject(job, i))
	m.Data = r.AppendJSON(nil)
	m.Header.Set(indexHeader, strconv.Itoa(i))
	if _, err := b.JS.PublishMsg(context.Background(), m, jetstream.WithExpectLastSequencePerSubject(0)); err != nil {
		t.Fatal(err)
	}
}

// revView is what one reader shows of a job: the status of each entry,
// and the entries it showed more than once.
type revView struct {
	status map[int]string
	twice  []int
}

func (v *revView) add(raw []byte) error {
	var r struct {
		Index  *int
		Status string
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.Index == nil {
		return fmt.Errorf("result %s: %v (or no index)", raw, err)
	}
	if _, dup := v.status[*r.Index]; dup {
		v.twice = append(v.twice, *r.Index)
	}
	v.status[*r.Index] = r.Status
	return nil
}

// revPages reads a job page by page from the start until a page says no
// more (and gives nothing).
func revPages(t *testing.T, b *Bus, id string, limit int) *revView {
	t.Helper()
	v := &revView{status: map[int]string{}}
	var after uint64
	for range 100000 {
		p, err := b.Results(context.Background(), "", id, after, limit)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Results {
			if err := v.add(r); err != nil {
				t.Fatal(err)
			}
		}
		after = p.Cursor
		if !p.More && len(p.Results) == 0 {
			return v
		}
	}
	t.Fatal("pages never end")
	return nil
}

func revExport(t *testing.T, b *Bus, id string) *revView {
	t.Helper()
	v := &revView{status: map[int]string{}}
	if err := b.Export(context.Background(), "", id, v.add); err != nil {
		t.Fatal(err)
	}
	return v
}

// revDownload reads entries 0..n-1 with ResultsBatch and ResultsAt.
func revDownload(t *testing.T, b *Bus, id string, n int) (batched, each map[int]string) {
	t.Helper()
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	read := func(f func(context.Context, string, []int) ([][]byte, error)) map[int]string {
		got, err := f(context.Background(), id, idx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[int]string{}
		for i, raw := range got {
			if raw == nil {
				continue
			}
			var r struct{ Status string }
			if err := json.Unmarshal(raw, &r); err != nil {
				t.Fatalf("entry %d: %s: %v", i, raw, err)
			}
			out[i] = r.Status
		}
		return out
	}
	return read(b.ResultsBatch), read(b.ResultsAt)
}

// revWaitPosition waits until the aggregator's stored position reaches
// the stream's last sequence.
func revWaitPosition(t *testing.T, b *Bus) {
	t.Helper()
	ctx := context.Background()
	s, err := b.JS.Stream(ctx, ResultsStream)
	if err != nil {
		t.Fatal(err)
	}
	last := s.CachedInfo().State.LastSeq
	if last == 0 {
		return
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		e, err := b.State.Get(ctx, positionKey)
		if err == nil {
			if p, _ := strconv.ParseUint(string(e.Value()), 10, 64); p >= last {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the aggregator did not reach %d", last)
		}
	}
}

// revCheck checks that every reader shows each of the n entries once,
// with the status want gives it, and that the job's counts agree.
func revCheck(t *testing.T, b *Bus, id string, n int, want func(i int) string) {
	t.Helper()
	j, err := b.Get(context.Background(), "", id)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for i := range n {
		counts[want(i)]++
	}
	if j.Done != n || j.State != Done || fmt.Sprint(j.Counts) != fmt.Sprint(counts) {
		t.Errorf("job: %s, done %d of %d, counts %v; want done, %d, counts %v", j.State, j.Done, j.Total, j.Counts, n, counts)
	}
	batched, each := revDownload(t, b, id, n)
	views := map[string]*revView{
		"pages of 97": revPages(t, b, id, 97), "pages of 1000": revPages(t, b, id, 1000),
		"export": revExport(t, b, id), "ResultsBatch": {status: batched}, "ResultsAt": {status: each},
	}
	for how, v := range views {
		if len(v.twice) > 0 {
			t.Errorf("%s shows entries %v twice", how, v.twice)
		}
		bad := 0
		for i := range n {
			if got := v.status[i]; got != want(i) {
				if bad++; bad <= 3 {
					t.Errorf("%s: entry %d is %q; want %q (the first stored)", how, i, got, want(i))
				}
			}
		}
		if bad > 3 {
			t.Errorf("%s: %d entries wrong in all", how, bad)
		}
		if len(v.status) != n {
			t.Errorf("%s shows %d entries; want %d", how, len(v.status), n)
		}
	}
}
