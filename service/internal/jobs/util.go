package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash/fnv"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func idemKey(owner, key string) string {
	h := sha256.Sum256([]byte(owner + "\x00" + key))
	return hex.EncodeToString(h[:])
}

// partition maps a politeness key to a partition.
func partition(key string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

func logOrDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// fetch takes up to n messages: it waits (up to wait) for the first, then
// takes what else is there at once, so that a trickle is not held back
// until a batch fills.
func fetch(ctx context.Context, c jetstream.Consumer, n int, wait time.Duration) ([]jetstream.Msg, error) {
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	first, err := c.Fetch(1, jetstream.FetchContext(wctx))
	if err != nil {
		return nil, err
	}
	var out []jetstream.Msg
	for m := range first.Messages() {
		out = append(out, m)
	}
	if len(out) == 0 || n == 1 {
		if err := first.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			return out, err
		}
		return out, nil
	}
	rest, err := c.FetchNoWait(n - 1)
	if err != nil {
		return out, nil
	}
	for m := range rest.Messages() {
		out = append(out, m)
	}
	return out, nil
}
