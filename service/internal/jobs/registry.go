package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mailverify/mailverify/egress"
	"github.com/nats-io/nats.go/jetstream"
)

// WorkersBucket holds what each running worker declares: its egresses,
// and the providers it leaves to others for now. Key: the worker's ID.
const WorkersBucket = "mv_workers"

// Declarations are renewed every declareEvery; one not renewed within
// declaredFor is a worker gone.
const (
	declareEvery = 5 * time.Second
	declaredFor  = 3 * declareEvery
)

// A Declaration is what a worker tells the cluster about itself.
type Declaration struct {
	ID      string    `json:"id"`
	Host    string    `json:"host,omitempty"`
	Started time.Time `json:"started"`
	// Seen is when the declaration was last renewed (by the bus's clock).
	Seen time.Time `json:"seen"`
	// Egresses are its ways out; none: it probes directly, with no
	// health kept (it serves every provider).
	Egresses []DeclaredEgress `json:"egresses"`
	// Avoids are the providers whose partitions it does not take now:
	// every egress of its own that may serve them is backed off, and
	// another worker has one that is not.
	Avoids []Avoided `json:"avoids"`
}

// A DeclaredEgress is one egress of a worker: its ID (the health store's
// key) and the providers it is pinned to (none: every unpinned one).
type DeclaredEgress struct {
	ID        string   `json:"id"`
	Providers []string `json:"providers,omitempty"`
}

// Avoided is a provider a worker leaves to others, until at least Until
// (when the first of its egresses for it comes back).
type Avoided struct {
	Provider string    `json:"provider"`
	Until    time.Time `json:"until,omitzero"`
}

func (b *Bus) workersKV(ctx context.Context) (jetstream.KeyValue, error) {
	return b.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: WorkersBucket, TTL: time.Minute,
		Replicas: b.replicas(), History: 1})
}

// declare stores d (its Seen comes from the bus when read).
func declare(ctx context.Context, kv jetstream.KeyValue, d Declaration) error {
	data, err := json.Marshal(d)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = kv.Put(ctx, d.ID, data)
	return err
}

// declarationOf reads an entry of the bucket; ok is false for a deleted
// or unreadable one.
func declarationOf(e jetstream.KeyValueEntry) (Declaration, bool) {
	if e.Operation() != jetstream.KeyValuePut {
		return Declaration{}, false
	}
	var d Declaration
	if err := json.Unmarshal(e.Value(), &d); err != nil {
		return Declaration{}, false
	}
	d.Seen = e.Created()
	return d, true
}

func live(d Declaration, now time.Time) bool { return now.Sub(d.Seen) < declaredFor }

// Workers returns the workers running now, each with its egresses and the
// providers it leaves to others, in ID order.
func (b *Bus) Workers(ctx context.Context) ([]Declaration, error) {
	kv, err := b.workersKV(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := kv.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return []Declaration{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := []Declaration{}
	for _, k := range keys {
		e, err := kv.Get(ctx, k)
		if err != nil {
			continue // gone meanwhile
		}
		if d, ok := declarationOf(e); ok && live(d, time.Now()) {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b Declaration) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// declarationFor describes a worker with these egresses.
func declarationFor(es []egress.Egress) Declaration {
	host, _ := os.Hostname()
	d := Declaration{ID: newID(), Host: host, Started: time.Now(), Egresses: []DeclaredEgress{}, Avoids: []Avoided{}}
	for _, e := range es {
		d.Egresses = append(d.Egresses, DeclaredEgress{ID: e.ID(), Providers: slices.Clone(e.Providers)})
	}
	return d
}
