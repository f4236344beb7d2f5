package historydb

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/mailverify/mailverify/feedback"
)

func TestDB(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	if err := db.RecordAll([]feedback.Event{
		{Address: "jane@Example.com", Kind: feedback.HardBounce, Status: "5.1.1", At: t0, Source: "dsn"},
		{Address: "jane@example.com", Kind: feedback.Delivered, At: t0.Add(-time.Hour)}, // older: ignored
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// It survives reopening.
	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e, ok, err := db.Lookup("<jane@EXAMPLE.com>")
	if err != nil || !ok || e.Kind != feedback.HardBounce || e.Status != "5.1.1" || !e.At.Equal(t0) {
		t.Fatalf("Lookup = %+v %v %v", e, ok, err)
	}
	if _, ok, _ := db.Lookup("bob@example.com"); ok {
		t.Error("an address never recorded was found")
	}
	if err := db.Record(feedback.Event{Address: "jane@example.com", Kind: feedback.Delivered, At: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if e, _, _ := db.Lookup("jane@example.com"); e.Kind != feedback.Delivered {
		t.Errorf("a newer event did not replace the older: %+v", e)
	}
}
