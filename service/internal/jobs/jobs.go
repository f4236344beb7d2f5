package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/mailverify/mailverify/internal/input"
	"github.com/nats-io/nats.go/jetstream"
)

// Job states.
const (
	Queued   = "queued"
	Running  = "running"
	Done     = "done"
	Canceled = "canceled"
)

// A Job is the public view of a bulk job.
type Job struct {
	ID       string         `json:"id"`
	State    string         `json:"state"`
	Total    int            `json:"total"`
	Done     int            `json:"done"`
	Counts   map[string]int `json:"counts"`
	Reasons  map[string]int `json:"reasons"`
	Created  time.Time      `json:"created"`
	Finished *time.Time     `json:"finished,omitempty"`
	// Erased says the job's addresses and results were deleted (DELETE).
	Erased     bool   `json:"erased,omitempty"`
	WebhookURL string `json:"webhook_url,omitempty"`
	// Dedupe says the job verified each address once (compared without
	// regard to case); Duplicates are the entries it left out as repeats
	// of an earlier one (no result: the earlier one's is theirs).
	Dedupe     bool `json:"dedupe,omitempty"`
	Duplicates int  `json:"duplicates"`
	// Greylisted are the job's addresses waiting for a greylisting retry
	// now (sent back by their mail server, to be asked again); NextRetry
	// is the earliest of those retries. Both only while the job runs.
	Greylisted int        `json:"greylisted"`
	NextRetry  *time.Time `json:"next_retry,omitempty"`
	// File is the file the job was made from (POST /v1/lists), kept
	// for downloads; see files.go.
	File *File `json:"file,omitempty"`
}

// record is a job as stored: the public view and the bookkeeping.
type record struct {
	Job
	Owner   string `json:"owner,omitempty"` // who may see it: a hash of the token
	Seq     uint64 `json:"seq"`             // the last results-stream sequence counted
	Webhook string `json:"webhook_state,omitempty"`
	// Claimed is when a process took the webhook delivery on.
	Claimed time.Time `json:"webhook_claimed,omitzero"`
}

// ErrNotFound is a job that does not exist (or belongs to someone else).
var ErrNotFound = errors.New("service: no such job")

// ErrInProgress is an idempotency key whose first request is still running.
var ErrInProgress = errors.New("service: a request with this idempotency key is in progress")

// An InputError is input a job refused; nothing was stored.
type InputError struct {
	Line int
	Msg  string
}

func (e *InputError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// MaxInput is the longest input accepted: no address is longer than 254
// octets, and a longer line is not one.
const MaxInput = 1024

// Inputs yields the entries of a job and returns why reading stopped
// early, if it did.
type Inputs func(yield func(input.Entry) bool) error

// A Spec is what a job is asked to do.
type Spec struct {
	Owner      string
	WebhookURL string
	// IdempotencyKey, when set, makes a repeated submission return the
	// job of the first one.
	IdempotencyKey string
	// Dedupe, when set, is what left repeated addresses out of the
	// inputs (see Dedupe.Filter); its count is stored with the job.
	Dedupe *Dedupe
}

type chunk struct {
	Job   string `json:"job"`
	Start int    `json:"start"`
	Items []item `json:"items"`
}

// An item is one entry: the address, and the text as given when it differs.
type item struct {
	Addr string `json:"a"`
	Raw  string `json:"r,omitempty"`
	Ref  string `json:"f,omitempty"` // the caller's reference
}

func (it item) raw() string {
	if it.Raw != "" {
		return it.Raw
	}
	return it.Addr
}

const (
	chunkEntries = 1000
	chunkBytes   = 256 << 10
)

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Submit stores the inputs of a new job and queues it. The job exists
// only once every input is stored: on an error, nothing is kept.
func (b *Bus) Submit(ctx context.Context, spec Spec, in Inputs) (*Job, error) {
	if spec.IdempotencyKey != "" {
		return b.submitOnce(ctx, spec, in)
	}
	return b.submit(ctx, newID(), spec, in)
}

// submit stages the inputs under id, then commits the job: its record and
// its message in the scheduler's queue. Until the commit, nothing in the
// queue refers to the upload, so one cut short blocks no other job.
func (b *Bus) submit(ctx context.Context, id string, spec Spec, in Inputs) (*Job, error) {
	c := chunk{Job: id}
	size, n, seq := 0, 0, 0
	flush := func() error {
		if len(c.Items) == 0 {
			return nil
		}
		if err := b.Disk.Full(); err != nil {
			return err
		}
		data, err := json.Marshal(c)
		if err != nil {
			return err
		}
		if _, err := b.JS.Publish(ctx, stageSubject(id, seq), data); err != nil {
			return err
		}
		seq++
		c.Start += len(c.Items)
		c.Items, size = c.Items[:0], 0
		return nil
	}
	var err error
	readErr := in(func(e input.Entry) bool {
		n++
		if len(e.Raw) > MaxInput {
			err = &InputError{Msg: fmt.Sprintf("entry %d is longer than %d bytes; not an address", n, MaxInput)}
			return false
		}
		it := item{Addr: e.Addr, Ref: e.Ref}
		if e.Raw != e.Addr {
			it.Raw = e.Raw
		}
		c.Items = append(c.Items, it)
		if size += len(e.Raw) + len(it.Raw) + len(e.Ref) + 16; len(c.Items) >= chunkEntries || size >= chunkBytes {
			err = flush()
		}
		return err == nil
	})
	if err == nil {
		err = readErr
	}
	if err == nil && n == 0 {
		err = &InputError{Msg: "no addresses"}
	}
	if err == nil {
		err = flush()
	}
	if err != nil {
		b.purgeStage(context.WithoutCancel(ctx), id)
		return nil, err
	}
	rec := record{Job: Job{ID: id, State: Queued, Total: n, Counts: map[string]int{}, Reasons: map[string]int{},
		Created: time.Now().UTC().Truncate(time.Millisecond), WebhookURL: spec.WebhookURL,
		Dedupe: spec.Dedupe != nil, Duplicates: spec.Dedupe.Count()}, Owner: spec.Owner}
	// A client that goes away now does not leave half a commit behind.
	if err := b.commit(context.WithoutCancel(ctx), &rec, seq); err != nil {
		return nil, err
	}
	return &rec.Job, nil
}

func (b *Bus) putNew(ctx context.Context, rec *record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	_, err = b.Jobs.Create(ctx, rec.ID, data)
	return err
}

// load reads a job's record and its revision.
func (b *Bus) load(ctx context.Context, id string) (*record, uint64, error) {
	if !validID(id) {
		return nil, 0, ErrNotFound
	}
	var val []byte
	var rev uint64
	e, err := b.Jobs.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		val, rev, err = b.leaderGet(ctx, JobsBucket, id) // a follower may lag
	} else if err == nil {
		val, rev = e.Value(), e.Revision()
	}
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, err
	}
	var rec record
	if err := json.Unmarshal(val, &rec); err != nil {
		return nil, 0, fmt.Errorf("service: job %s: %w", id, err)
	}
	return &rec, rev, nil
}

// update applies change to a job's record with compare-and-set, retrying
// on conflicts. change returns false to leave the record as it is.
func (b *Bus) update(ctx context.Context, id string, change func(*record) bool) (*record, error) {
	for {
		rec, rev, err := b.load(ctx, id)
		if err != nil {
			return nil, err
		}
		if !change(rec) {
			return rec, nil
		}
		data, err := json.Marshal(rec)
		if err != nil {
			return nil, err
		}
		if _, err = b.Jobs.Update(ctx, id, data, rev); err == nil {
			return rec, nil
		} else if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, err
		}
	}
}

// Get returns the job, if owner may see it.
func (b *Bus) Get(ctx context.Context, owner, id string) (*Job, error) {
	rec, _, err := b.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if rec.Owner != owner {
		return nil, ErrNotFound
	}
	b.fillWaits(ctx, &rec.Job) // greywait.go
	return &rec.Job, nil
}

// Cancel stops a job that has not finished (its remaining addresses are
// dropped by the workers) and erases its data: the addresses uploaded,
// the results stored and the list file (POST /v1/lists). The record
// stays, without an address, until the retention ends.
func (b *Bus) Cancel(ctx context.Context, owner, id string) (*Job, error) {
	return b.stop(ctx, owner, id, true)
}

// Stop stops a job that has not finished and keeps what it has: the
// results so far and the list file stay downloadable until the
// retention ends (the page's Cancel).
func (b *Bus) Stop(ctx context.Context, owner, id string) (*Job, error) {
	return b.stop(ctx, owner, id, false)
}

func (b *Bus) stop(ctx context.Context, owner, id string, erase bool) (*Job, error) {
	var canceled bool
	rec, err := b.update(ctx, id, func(r *record) bool {
		canceled = false
		if r.Owner != owner || r.Erased {
			return false
		}
		if r.State != Done && r.State != Canceled {
			r.State, canceled = Canceled, true
			now := time.Now().UTC().Truncate(time.Millisecond)
			r.Finished = &now
			if r.WebhookURL != "" {
				r.Webhook = webhookPending
			}
		}
		r.Erased = erase
		return canceled || erase
	})
	if err != nil {
		return nil, err
	}
	if rec.Owner != owner {
		return nil, ErrNotFound
	}
	if erase {
		b.erase(context.WithoutCancel(ctx), id)
		b.DeleteFile(context.WithoutCancel(ctx), &rec.Job) // a list's upload is its data too
	}
	if canceled && rec.Webhook == webhookPending {
		_ = b.NC.Publish(kickSubject, []byte(id)) // else the sweep finds it
	}
	return &rec.Job, nil
}

// List returns the jobs owner may see, newest first (all of them: see
// ListPage).
func (b *Bus) List(ctx context.Context, owner string) ([]Job, error) {
	out, _, err := b.ListPage(ctx, owner, "", math.MaxInt)
	return out, err
}

func validID(id string) bool {
	if len(id) != 24 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}
