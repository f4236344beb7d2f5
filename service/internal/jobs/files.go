package jobs

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// FilesBucket is the object store of the files jobs were made from: the
// upload as it came, and its row map (which job entry each row became).
// It expires with the jobs (Retention).
const FilesBucket = "mv_files"

// A File is the file a job was made from, as the job stores it.
type File struct {
	Name string `json:"name"`
	// Size is the upload's size in bytes.
	Size int64 `json:"size"`
	// Column is the address column's header, or "column N" without one;
	// ColumnIndex counts from 1.
	Column      string `json:"column"`
	ColumnIndex int    `json:"column_index"`
	Header      bool   `json:"header"`
	Encoding    string `json:"encoding"`
	Separator   string `json:"separator"`
	// LazyQuotes is set when quotes inside unquoted cells are taken
	// literally, as spreadsheets do.
	LazyQuotes bool `json:"lazy_quotes,omitempty"`
	// Rows are the file's data rows (the header not counted).
	Rows int `json:"rows"`
	// Duplicates are the rows whose address an earlier row has; with
	// Dedupe they were not verified again.
	Duplicates int  `json:"duplicates"`
	Dedupe     bool `json:"dedupe"`
	// Sheet is the sheet read of an .xlsx workbook, which is kept as
	// CSV (UTF-8, commas); empty for a CSV or text upload.
	Sheet string `json:"sheet,omitempty"`
	// Object is the upload's name in FilesBucket; its row map is
	// Object + ".rows".
	Object string `json:"object"`
}

// files opens the files bucket, creating it on first use.
func (b *Bus) files(ctx context.Context) (jetstream.ObjectStore, error) {
	store, err := b.JS.ObjectStore(ctx, FilesBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		store, err = b.JS.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: FilesBucket,
			TTL: b.retention(), Replicas: b.replicas(), Compression: true})
	}
	return store, err
}

// PutObject stores r under name in the files bucket and returns its size.
func (b *Bus) PutObject(ctx context.Context, name string, r io.Reader) (int64, error) {
	store, err := b.files(ctx)
	if err != nil {
		return 0, err
	}
	info, err := store.Put(ctx, jetstream.ObjectMeta{Name: name}, r)
	if err != nil {
		return 0, err
	}
	return int64(info.Size), nil
}

// OpenObject reads the object name of the files bucket, until ctx ends
// or the reader is closed.
func (b *Bus) OpenObject(ctx context.Context, name string) (io.ReadCloser, error) {
	store, err := b.files(ctx)
	if err != nil {
		return nil, err
	}
	// Without a deadline, the client would give the whole read its
	// default timeout of seconds, which a large file outlasts.
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	res, err := store.Get(ctx, name)
	if err != nil {
		cancel()
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	return &object{ObjectResult: res, cancel: cancel}, nil
}

// readTimeout bounds the reading of one object.
const readTimeout = 6 * time.Hour

type object struct {
	jetstream.ObjectResult
	cancel context.CancelFunc
}

func (o *object) Close() error {
	err := o.ObjectResult.Close()
	o.cancel()
	return err
}

// DeleteObjects deletes objects of the files bucket, those that exist.
func (b *Bus) DeleteObjects(ctx context.Context, names ...string) {
	store, err := b.files(ctx)
	if err != nil {
		return
	}
	for _, n := range names {
		_ = store.Delete(ctx, n)
	}
}

// SetFile records the file a job was made from.
func (b *Bus) SetFile(ctx context.Context, id string, f File) (*Job, error) {
	rec, err := b.update(ctx, id, func(r *record) bool {
		r.File = &f
		return true
	})
	if err != nil {
		return nil, err
	}
	return &rec.Job, nil
}

// Delete cancels a job and deletes it with everything stored for it:
// its record, inputs, results and file.
func (b *Bus) Delete(ctx context.Context, owner, id string) error {
	_, err := b.Cancel(ctx, owner, id)
	if err != nil {
		return err
	}
	// Cancel erased the upload, the results and the list file.
	// Its inputs still queued are dropped by the scheduler and the
	// workers once the record is gone, as for a canceled job.
	if s, err := b.JS.Stream(ctx, ResultsStream); err == nil {
		if err := s.Purge(ctx, jetstream.WithPurgeSubject(jobResults(id))); err != nil {
			return err
		}
	}
	return b.Jobs.Purge(ctx, id)
}

// DeleteFile deletes the file a job was made from, if any: the upload
// and its row map.
func (b *Bus) DeleteFile(ctx context.Context, job *Job) {
	if job.File != nil {
		b.DeleteObjects(ctx, job.File.Object, job.File.Object+".rows")
	}
}
