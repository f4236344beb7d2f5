package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"sync"
	"time"

	"github.com/mailverify/mailverify/internal/input"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrKeyReused is an idempotency key sent again with a different request
// (another body or webhook): the first request's job is not it.
var ErrKeyReused = errors.New("service: this idempotency key was used for a different request")

// An idemEntry is an idempotency key's value: the job it stands for, and
// while the upload goes on, who uploads it and when it last said so (a
// lease). Hash is the request's, once the job is committed.
type idemEntry struct {
	Job  string    `json:"job"`
	Hash string    `json:"hash,omitempty"`
	By   string    `json:"by,omitempty"`
	At   time.Time `json:"at,omitzero"`
}

// idemLease is how long an upload holds its key without renewing it: an
// uploader renews every third of it, so a key older than that was
// abandoned (its process died) and the next request may take it.
const idemLease = 30 * time.Second

func parseIdem(v []byte) idemEntry {
	var e idemEntry
	if json.Unmarshal(v, &e) != nil || e.Job == "" {
		return idemEntry{Job: string(v)} // written by an older version
	}
	return e
}

// abandoned tells whether an entry's upload will never commit.
func (b *Bus) abandoned(e idemEntry) bool {
	if b.embedded != nil && e.By != b.instance {
		return true // an earlier run of the only process
	}
	return time.Since(e.At) > idemLease
}

// submitOnce is Submit with an idempotency key: the first request with
// the key runs, a repeat of it returns its job, one with another body
// gets ErrKeyReused, and one while the first is uploading ErrInProgress.
func (b *Bus) submitOnce(ctx context.Context, spec Spec, in Inputs) (*Job, error) {
	key := idemKey(spec.Owner, spec.IdempotencyKey)
	h := sha256.New()
	h.Write([]byte(spec.WebhookURL + "\x00"))
	in = hashed(in, h)
	mine := idemEntry{Job: newID(), By: b.instance, At: time.Now()}
	rev, prev, err := b.claimIdem(ctx, spec.Owner, key, mine)
	if err != nil {
		return nil, err
	}
	if prev != nil {
		if err := in(func(input.Entry) bool { return true }); err != nil {
			return nil, err
		}
		if prev.Hash != "" && prev.Hash != hex.EncodeToString(h.Sum(nil)) {
			return nil, ErrKeyReused
		}
		return b.Get(ctx, spec.Owner, prev.Job)
	}
	l := &lease{b: b, key: key, e: mine, rev: rev}
	stop := l.keep(ctx)
	job, err := b.submit(ctx, mine.Job, spec, in)
	stop()
	bg := context.WithoutCancel(ctx)
	if err != nil {
		_ = b.Idem.Delete(bg, key, jetstream.LastRevision(l.rev))
		return nil, err
	}
	l.e.Hash, l.e.By = hex.EncodeToString(h.Sum(nil)), ""
	data, _ := json.Marshal(l.e)
	_, _ = b.Idem.Put(bg, key, data)
	return job, nil
}

// claimIdem takes the key for e, or returns the entry of the job that
// has it, or ErrInProgress. A key whose upload was abandoned is taken
// over.
func (b *Bus) claimIdem(ctx context.Context, owner, key string, e idemEntry) (uint64, *idemEntry, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return 0, nil, err
	}
	for range 5 {
		rev, err := b.Idem.Create(ctx, key, data)
		if err == nil {
			return rev, nil, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return 0, nil, err
		}
		got, err := b.Idem.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // released meanwhile
		}
		if err != nil {
			return 0, nil, err
		}
		prev := parseIdem(got.Value())
		if _, err := b.Get(ctx, owner, prev.Job); err == nil {
			return 0, &prev, nil
		} else if !errors.Is(err, ErrNotFound) {
			return 0, nil, err
		}
		if !b.abandoned(prev) {
			return 0, nil, ErrInProgress
		}
		rev, err = b.Idem.Update(ctx, key, data, got.Revision())
		if err == nil {
			b.purgeStage(context.WithoutCancel(ctx), prev.Job)
			return rev, nil, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return 0, nil, err
		}
	}
	return 0, nil, ErrInProgress
}

// A lease is an upload's hold on its idempotency key.
type lease struct {
	b   *Bus
	key string
	mu  sync.Mutex
	e   idemEntry
	rev uint64
}

// keep renews the lease until stop is called.
func (l *lease) keep(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		repeat(ctx, idemLease/3, func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.e.At = time.Now()
			data, _ := json.Marshal(l.e)
			if rev, err := l.b.Idem.Update(ctx, l.key, data, l.rev); err == nil {
				l.rev = rev
			}
		})
	}()
	return func() {
		cancel()
		<-done
	}
}

// hashed is in, writing each entry to h as it goes.
func hashed(in Inputs, h hash.Hash) Inputs {
	return func(yield func(input.Entry) bool) error {
		return in(func(e input.Entry) bool {
			h.Write([]byte(e.Raw + "\x00" + e.Ref + "\n"))
			return yield(e)
		})
	}
}
