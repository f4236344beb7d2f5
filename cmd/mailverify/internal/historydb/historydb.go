// Package historydb keeps feedback history (package feedback) in one file
// for the command: bbolt, a pure-Go, single-file, transactional key-value
// store. A lookup by address is all a verification needs, so a key-value
// store serves better than SQL: no schema, no cgo, one small dependency,
// and a crash never leaves a half-written record.
package historydb

import (
	"encoding/json"
	"time"

	"github.com/mailverify/mailverify/feedback"
	bolt "go.etcd.io/bbolt"
)

var bucket = []byte("events")

// A DB is a feedback.History in a file.
type DB struct{ db *bolt.DB }

var _ feedback.History = (*DB)(nil)

// Open opens (or creates) the history file; another process holding it
// makes Open fail after a few seconds.
func Open(path string) (*DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 3 * time.Second})
	if err != nil {
		return nil, err
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		db.Close()
		return nil, err
	}
	return &DB{db}, nil
}

// Close closes the file.
func (d *DB) Close() error { return d.db.Close() }

// Record implements feedback.History: it keeps the newest event per
// address.
func (d *DB) Record(e feedback.Event) error {
	return d.RecordAll([]feedback.Event{e})
}

// RecordAll records many events in one transaction.
func (d *DB) RecordAll(evs []feedback.Event) error {
	now := time.Now()
	return d.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		for _, e := range evs {
			e = e.Dated(now)
			k := []byte(feedback.Key(e.Address))
			if old := b.Get(k); old != nil {
				var prev feedback.Event
				if json.Unmarshal(old, &prev) == nil && feedback.Newer(prev, e, now) {
					continue
				}
			}
			v, err := json.Marshal(e)
			if err != nil {
				return err
			}
			if err := b.Put(k, v); err != nil {
				return err
			}
		}
		return nil
	})
}

// Lookup implements feedback.History.
func (d *DB) Lookup(address string) (feedback.Event, bool, error) {
	var e feedback.Event
	var found bool
	err := d.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucket).Get([]byte(feedback.Key(address)))
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &e)
	})
	return e, found && err == nil, err
}
