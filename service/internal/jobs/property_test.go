package jobs

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/internal/input"
	"github.com/mailverify/mailverify/service/internal/fakeworld"
)

// run is the bus and its stack on one data directory, restarted at will.
type run struct {
	t   *testing.T
	cfg Config
	w   *fakeworld.World
	b   *Bus
	st  *stack
}

func (r *run) start() {
	r.b = openBus(r.t, r.cfg)
	r.st = startStack(r.t, r.b, r.w, nil)
}

func (r *run) stop() {
	r.st.stop()
	r.b.Close()
}

// entries yields addrs, calling at(i) before the i-th; at returns false
// to stop early.
func entries(addrs []string, at func(i int) bool) Inputs {
	return func(yield func(input.Entry) bool) error {
		for i, a := range addrs {
			if at != nil && !at(i) {
				return nil
			}
			if !yield(input.Entry{Raw: a, Addr: input.Clean(a)}) {
				return nil
			}
		}
		return nil
	}
}

func csvInputs(body string) Inputs {
	return func(yield func(input.Entry) bool) error {
		rd, err := input.CSV(strings.NewReader(body), "")
		if err != nil {
			return &InputError{Msg: err.Error()}
		}
		rd.All(yield)
		return rd.Err()
	}
}

// TestEveryAcceptedJobEnds submits good jobs (lines, a CSV whose header
// is name,company, with and without idempotency keys) among bad uploads
// (an overlong entry after some chunks, a client gone mid-upload or right
// at the commit) and restarts, some in the middle of an upload, in a
// random order: every job the bus accepted finishes.
func TestEveryAcceptedJobEnds(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 1))
	w, known := smallWorld(10, 2)
	t.Cleanup(w.Close) // after the stack's workers stop (t.Cleanup runs last-first)
	var many []string
	for i := range 2500 {
		many = append(many, fmt.Sprintf("user%d@d%d.com", i, i%10))
	}
	r := &run{t: t, cfg: Config{DataDir: t.TempDir(), Partitions: 4, AckWait: 2 * time.Second}, w: w}
	r.start()
	defer func() { r.stop() }()
	accepted := map[string]int{}
	accept := func(j *Job, err error, what string) {
		switch {
		case err == nil:
			accepted[j.ID] = j.Total
		case errors.Is(err, ErrKeyReused), errors.Is(err, ErrInProgress):
		default:
			var in *InputError
			if !errors.As(err, &in) && !errors.Is(err, context.Canceled) && what == "good" {
				t.Errorf("a good job refused: %v", err)
			}
		}
	}
	for op := range 36 {
		ctx, cancel := context.WithCancel(context.Background())
		spec := Spec{}
		if rnd.IntN(3) == 0 {
			spec.IdempotencyKey = fmt.Sprintf("key-%d", rnd.IntN(3))
		}
		switch k := rnd.IntN(7); k {
		case 0, 1:
			n := 1 + rnd.IntN(len(known))
			j, err := r.b.Submit(ctx, spec, entries(known[:n], nil))
			accept(j, err, "good")
		case 2:
			j, err := r.b.Submit(ctx, spec, csvInputs("name,company\nJane Doe,Acme\nbob@d1.com,Bob Inc\n"))
			accept(j, err, "good")
		case 3: // an overlong entry after some chunks were staged
			bad := append(append([]string{}, many[:rnd.IntN(len(many))]...), strings.Repeat("x", MaxInput+1))
			_, err := r.b.Submit(ctx, spec, entries(bad, nil))
			var in *InputError
			if !errors.As(err, &in) && !errors.Is(err, ErrKeyReused) && !errors.Is(err, ErrInProgress) {
				t.Errorf("op %d: an overlong entry: %v; want an input error", op, err)
			}
		case 4: // the client goes away mid-upload
			stopAt := rnd.IntN(len(many))
			j, err := r.b.Submit(ctx, spec, entries(many, func(i int) bool {
				if i == stopAt {
					cancel()
				}
				return true
			}))
			accept(j, err, "gone")
		case 5: // the client goes away as the upload ends
			n := 1 + rnd.IntN(len(known))
			j, err := r.b.Submit(ctx, spec, func(yield func(input.Entry) bool) error {
				defer cancel()
				return entries(known[:n], nil)(yield)
			})
			accept(j, err, "gone")
		case 6: // a restart, in the middle of an upload
			reached, release, ended := make(chan struct{}), make(chan struct{}), make(chan error, 1)
			stopAt := rnd.IntN(len(many))
			go func() {
				j, err := r.b.Submit(ctx, Spec{}, entries(many, func(i int) bool {
					if i == stopAt {
						close(reached)
						<-release
					}
					return true
				}))
				if err == nil {
					t.Errorf("op %d: an upload through a restart was accepted as job %s", op, j.ID)
				}
				ended <- err
			}()
			<-reached
			r.stop()
			close(release)
			<-ended
			r.start()
		}
		cancel()
	}
	for id, total := range accepted {
		j := waitDone(t, r.b, id, 60*time.Second)
		if j.State != Done || j.Done != total {
			t.Errorf("job %s: %s %d of %d", id, j.State, j.Done, total)
		}
	}
	t.Logf("%d jobs accepted, each done", len(accepted))
}
