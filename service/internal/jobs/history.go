package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/mailverify/mailverify/feedback"
	"github.com/nats-io/nats.go/jetstream"
)

// HistoryBucket holds the feedback history of the service, shared by the
// API and every worker.
const HistoryBucket = "mv_history"

// A KVHistory is a feedback.History in a JetStream KV bucket. Keys are
// hashes of the addresses, so that the bucket's key listing names no one;
// entries expire after the bucket's age, the evidence's useful life.
type KVHistory struct{ kv jetstream.KeyValue }

var _ feedback.History = (*KVHistory)(nil)

// NewHistory opens the history bucket, keeping events for maxAge (zero:
// 90 days).
func (b *Bus) NewHistory(ctx context.Context, maxAge time.Duration) (*KVHistory, error) {
	kv, err := b.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: HistoryBucket,
		TTL: orDefault(maxAge, 90*24*time.Hour), Replicas: b.replicas(), History: 1})
	if err != nil {
		return nil, err
	}
	return &KVHistory{kv}, nil
}

func historyKey(address string) string {
	h := sha256.Sum256([]byte(feedback.Key(address)))
	return hex.EncodeToString(h[:])
}

// Record implements feedback.History: the newest event per address wins.
func (h *KVHistory) Record(e feedback.Event) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	now := time.Now()
	e = e.Dated(now)
	k := historyKey(e.Address)
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	for {
		cur, err := h.kv.Get(ctx, k)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			if _, err = h.kv.Create(ctx, k, data); !errors.Is(err, jetstream.ErrKeyExists) {
				return err
			}
			continue // created meanwhile: compare with it
		case err != nil:
			return err
		}
		var prev feedback.Event
		if json.Unmarshal(cur.Value(), &prev) == nil && feedback.Newer(prev, e, now) {
			return nil
		}
		if _, err = h.kv.Update(ctx, k, data, cur.Revision()); !errors.Is(err, jetstream.ErrKeyExists) {
			return err
		}
	}
}

// Lookup implements feedback.History.
func (h *KVHistory) Lookup(address string) (feedback.Event, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var e feedback.Event
	cur, err := h.kv.Get(ctx, historyKey(address))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return e, false, nil
	}
	if err != nil {
		return e, false, err
	}
	return e, json.Unmarshal(cur.Value(), &e) == nil, nil
}
