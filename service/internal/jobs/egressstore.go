package jobs

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mailverify/mailverify/egress"
	"github.com/nats-io/nats.go/jetstream"
)

// EgressBucket holds the health of every (egress, provider) pair of the
// cluster, so that a worker's restart keeps the back-off and a block one
// worker drew holds for all.
const EgressBucket = "mv_egress"

// An EgressStore is an egress.Store in a JetStream KV bucket: its
// revisions are the bucket's, so egress.Health's compare-and-set holds
// between workers. It is an egress.BudgetStore too, in a bucket of its
// own (BudgetBucket; budgetstore.go): a Verifier given it as its
// EgressStore shares both health and budgets with the cluster. Each call
// waits at most 2 s for the bus.
type EgressStore struct {
	kv      jetstream.KeyValue
	budgets jetstream.KeyValue
}

// NewEgressStore opens the buckets (health records older than two days
// go: the longest back-off is a day; see budgetBucket for the budgets').
func (b *Bus) NewEgressStore(ctx context.Context) (*EgressStore, error) {
	kv, err := b.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: EgressBucket, TTL: 48 * time.Hour,
		Replicas: b.replicas(), History: 1})
	if err != nil {
		return nil, err
	}
	budgets, err := b.budgetBucket(ctx)
	if err != nil {
		return nil, err
	}
	return &EgressStore{kv: kv, budgets: budgets}, nil
}

// egressKey is a KV key for k: both parts base64url (egress IDs and
// provider keys hold colons and brackets, which keys do not allow).
func egressKey(k egress.Key) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(k.Egress)) + "." + enc.EncodeToString([]byte(k.Provider))
}

func keyOfEgress(s string) (egress.Key, bool) {
	a, b, ok := strings.Cut(s, ".")
	e, err1 := base64.RawURLEncoding.DecodeString(a)
	p, err2 := base64.RawURLEncoding.DecodeString(b)
	return egress.Key{Egress: string(e), Provider: string(p)}, ok && err1 == nil && err2 == nil
}

func timeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 2*time.Second)
}

// Get implements egress.Store.
func (s *EgressStore) Get(k egress.Key) (egress.Record, uint64, error) {
	return getJSON[egress.Record](s.kv, k, "egress store")
}

// Put implements egress.Store: a create when rev is 0, else an update
// that holds only while the key is still at rev.
func (s *EgressStore) Put(k egress.Key, r egress.Record, rev uint64) (uint64, error) {
	return putJSON(s.kv, k, r, rev, "egress store")
}

// getJSON reads k's value from kv as JSON, with its revision: zero and
// revision 0 when there is none. what names the store in errors.
func getJSON[T any](kv jetstream.KeyValue, k egress.Key, what string) (T, uint64, error) {
	var v T
	ctx, cancel := timeout()
	defer cancel()
	e, err := kv.Get(ctx, egressKey(k))
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return v, 0, nil
	case err != nil:
		return v, 0, fmt.Errorf("%s: %w", what, err)
	}
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return v, 0, fmt.Errorf("%s: %s: %w", what, k, err)
	}
	return v, e.Revision(), nil
}

// putJSON writes v as k's value in kv: a create when rev is 0, else an
// update that holds only while the key is still at rev (egress.ErrConflict
// when it is not).
func putJSON[T any](kv jetstream.KeyValue, k egress.Key, v T, rev uint64, what string) (uint64, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, err
	}
	ctx, cancel := timeout()
	defer cancel()
	if rev == 0 {
		rev, err = kv.Create(ctx, egressKey(k), b)
	} else {
		rev, err = kv.Update(ctx, egressKey(k), b, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return 0, egress.ErrConflict
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return rev, nil
}

// List implements egress.Store, in key order.
func (s *EgressStore) List() ([]egress.Entry, error) {
	ctx, cancel := timeout()
	defer cancel()
	keys, err := s.kv.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("egress store: %w", err)
	}
	var out []egress.Entry
	for _, key := range keys {
		k, ok := keyOfEgress(key)
		if !ok {
			continue
		}
		r, _, err := s.Get(k)
		if err != nil {
			return nil, err
		}
		out = append(out, egress.Entry{Key: k, Record: r})
	}
	slices.SortFunc(out, func(a, b egress.Entry) int {
		return cmp.Or(strings.Compare(a.Key.Egress, b.Key.Egress), strings.Compare(a.Key.Provider, b.Key.Provider))
	})
	return out, nil
}
