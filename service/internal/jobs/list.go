package jobs

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// OwnersBucket indexes the jobs by owner: key <owner>.<job>, so that a
// listing reads one owner's keys, not every job's record.
const OwnersBucket = "mv_owners"

// ownerToken is owner as a KV key token ("" is the owner without auth).
func ownerToken(owner string) string {
	if owner == "" {
		return "_"
	}
	return owner
}

func (b *Bus) owners(ctx context.Context) (jetstream.KeyValue, error) {
	return b.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: OwnersBucket, TTL: b.retention(),
		Replicas: b.replicas(), History: 1})
}

func (b *Bus) ownersBucket(ctx context.Context) (jetstream.KeyValue, error) {
	if b.ownersKV != nil {
		return b.ownersKV, nil
	}
	return b.owners(ctx)
}

// index adds a job to its owner's listing.
func (b *Bus) index(ctx context.Context, rec *record) error {
	kv, err := b.ownersBucket(ctx)
	if err != nil {
		return err
	}
	_, err = kv.Put(ctx, ownerToken(rec.Owner)+"."+rec.ID, nil)
	return err
}

// ErrListCursor is an after that is not a job of the listing.
var ErrListCursor = errors.New("after must be a job id from the listing's next")

// ListPage returns up to limit of owner's jobs, newest first, starting
// after the job after (empty: from the newest), and the id to pass as
// after for the next page ("" at the end).
func (b *Bus) ListPage(ctx context.Context, owner, after string, limit int) ([]Job, string, error) {
	kv, err := b.ownersBucket(ctx)
	if err != nil {
		return nil, "", err
	}
	prefix := ownerToken(owner) + "."
	keys, err := kv.ListKeysFiltered(ctx, prefix+"*")
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, "", err
	}
	var ids []string
	if keys != nil {
		for k := range keys.Keys() {
			ids = append(ids, strings.TrimPrefix(k, prefix))
		}
	}
	slices.Reverse(ids) // keys come in the order they were written: oldest first
	start := 0
	if after != "" {
		i := slices.Index(ids, after)
		if i < 0 {
			return nil, "", ErrListCursor
		}
		start = i + 1
	}
	out := []Job{}
	next := ""
	for i := start; i < len(ids); i++ {
		if len(out) == limit {
			next = out[len(out)-1].ID
			break
		}
		rec, _, err := b.load(ctx, ids[i])
		if errors.Is(err, ErrNotFound) {
			continue // expired before its index entry, or never committed
		}
		if err != nil {
			return nil, "", err
		}
		if rec.Owner == owner {
			out = append(out, rec.Job)
		}
	}
	return out, next, nil
}
