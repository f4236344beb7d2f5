package jobs

import (
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// TestLeaderGet: the leader's read gives what the bucket's own Get gives,
// and "no such key" for a key never stored, deleted or purged.
func TestLeaderGet(t *testing.T) {
	b := openBus(t, Config{})
	defer b.Close()
	ctx := t.Context()
	for _, k := range []string{"kept", "deleted", "purged"} {
		if _, err := b.Jobs.Put(ctx, k, []byte(`{"id":"`+k+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Jobs.Delete(ctx, "deleted"); err != nil {
		t.Fatal(err)
	}
	if err := b.Jobs.Purge(ctx, "purged"); err != nil {
		t.Fatal(err)
	}
	e, err := b.Jobs.Get(ctx, "kept")
	if err != nil {
		t.Fatal(err)
	}
	val, rev, err := b.leaderGet(ctx, JobsBucket, "kept")
	if err != nil || string(val) != string(e.Value()) || rev != e.Revision() {
		t.Errorf("leaderGet(kept) = %q, %d, %v; want %q, %d", val, rev, err, e.Value(), e.Revision())
	}
	for _, k := range []string{"never", "deleted", "purged"} {
		if _, _, err := b.leaderGet(ctx, JobsBucket, k); !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Errorf("leaderGet(%s): %v; want ErrKeyNotFound", k, err)
		}
	}
}
