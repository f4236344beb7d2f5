package jobs

import (
	"context"
	"strings"
	"time"

	"github.com/mailverify/mailverify/catchall"
	"github.com/nats-io/nats.go/jetstream"
)

// CatchAllBucket shares catch-all answers between workers.
const CatchAllBucket = "mv_catchall"

// catchAllTTL is how long a shared answer lasts, as a Detector's own.
const catchAllTTL = time.Hour

// A CatchAllStore is a catchall.Store in a JetStream KV bucket, so that a
// worker that takes over a partition (or restarts) knows what the others
// learned. Loads wait at most 300 ms; saves go out in the background and
// are dropped when the bus is slow, since a lost answer costs one probe.
type CatchAllStore struct {
	kv    jetstream.KeyValue
	saves chan saveReq
}

type saveReq struct {
	key string
	st  catchall.Status
}

// NewCatchAllStore opens the bucket and starts the saver, until ctx ends.
func (b *Bus) NewCatchAllStore(ctx context.Context) (*CatchAllStore, error) {
	kv, err := b.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: CatchAllBucket, TTL: catchAllTTL,
		Replicas: b.replicas(), History: 1})
	if err != nil {
		return nil, err
	}
	s := &CatchAllStore{kv: kv, saves: make(chan saveReq, 1024)}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case r := <-s.saves:
				text, _ := r.st.MarshalText()
				sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				_, _ = s.kv.Put(sctx, r.key, text)
				cancel()
			}
		}
	}()
	return s, nil
}

// catchAllKey is a KV key for (domain, host): both are A-label host names,
// whose letters, digits, dots and hyphens KV keys allow.
func catchAllKey(domain, host string) (string, bool) {
	k := strings.ToLower(domain) + "/" + strings.ToLower(host)
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == '/') {
			return "", false
		}
	}
	return k, true
}

// Load implements catchall.Store.
func (s *CatchAllStore) Load(domain, host string) (catchall.Status, time.Time, bool) {
	k, ok := catchAllKey(domain, host)
	if !ok {
		return catchall.Unknown, time.Time{}, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	e, err := s.kv.Get(ctx, k)
	if err != nil {
		return catchall.Unknown, time.Time{}, false
	}
	var st catchall.Status
	if st.UnmarshalText(e.Value()) != nil || st == catchall.Unknown {
		return catchall.Unknown, time.Time{}, false
	}
	return st, e.Created(), true
}

// Save implements catchall.Store.
func (s *CatchAllStore) Save(domain, host string, st catchall.Status) {
	k, ok := catchAllKey(domain, host)
	if !ok || st == catchall.Unknown {
		return
	}
	select {
	case s.saves <- saveReq{k, st}:
	default:
	}
}
