package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// An upload is staged in MV_STAGE, chunk by chunk, and reaches the
// scheduler only when it is whole: commit publishes one message for the
// job to MV_INPUT and creates its record. An upload cut short (a client
// gone, a crash) leaves staged chunks and no message, which SweepUploads
// removes; it never stands in the queue before other jobs.

// commitGrace is how long the scheduler waits for the record of a job
// whose message it has: the commit writes the message first.
const commitGrace = time.Minute

// uploadIdle is how long staged chunks without a job may sit before the
// janitor removes them, when other processes may be uploading.
const uploadIdle = 10 * time.Minute

// A queued is a job's message in MV_INPUT: Chunks staged chunks. Items is
// set instead in the chunks of older versions, which went to the queue
// directly.
type queued struct {
	chunk
	Chunks int `json:"chunks,omitempty"`
}

func stageSubject(job string, n int) string { return fmt.Sprintf("mv.stage.%s.%d", job, n) }

// commit makes a staged job real: its message for the scheduler, then its
// record. On an error the job does not exist for the caller; what was
// written is cleaned up here or, for a message without a record, by the
// scheduler once commitGrace has passed.
func (b *Bus) commit(ctx context.Context, rec *record, chunks int) error {
	// A sweep (of an upload idle past uploadIdle) removes every chunk:
	// the first one tells.
	if _, err := b.stage.GetLastMsgForSubject(ctx, stageSubject(rec.ID, 0)); err != nil {
		b.purgeStage(ctx, rec.ID)
		return fmt.Errorf("service: the upload's chunks were removed as abandoned: %w", err)
	}
	data, err := json.Marshal(queued{chunk: chunk{Job: rec.ID}, Chunks: chunks})
	if err != nil {
		return err
	}
	if _, err := b.JS.Publish(ctx, inputSubject(rec.ID), data, jetstream.WithMsgID(rec.ID)); err != nil {
		b.purgeStage(ctx, rec.ID)
		return err
	}
	if err := b.index(ctx, rec); err != nil {
		return err // the scheduler drops the message: no record comes
	}
	if err := b.putNew(ctx, rec); err != nil {
		_ = b.Jobs.Delete(ctx, rec.ID) // if it was stored after all
		return err
	}
	return nil
}

func (b *Bus) purgeStage(ctx context.Context, id string) {
	if s, err := b.JS.Stream(ctx, StageStream); err == nil {
		_ = s.Purge(ctx, jetstream.WithPurgeSubject("mv.stage."+id+".>"))
	}
}

// SweepUploads removes the staged chunks of uploads that never became a
// job and whose last chunk is older than idle (zero: all of them, for
// when no upload can be going on, as when an embedded server starts).
func (b *Bus) SweepUploads(ctx context.Context, idle time.Duration) error {
	st, err := b.JS.Stream(ctx, StageStream)
	if err != nil {
		return err
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter("mv.stage.>"))
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for subj := range info.State.Subjects {
		rest, _ := strings.CutPrefix(subj, "mv.stage.")
		id, _, _ := strings.Cut(rest, ".")
		if seen[id] {
			continue
		}
		seen[id] = true
		if _, _, err := b.load(ctx, id); !errors.Is(err, ErrNotFound) {
			continue // a job (or cannot tell)
		}
		if idle > 0 {
			last, err := st.GetLastMsgForSubject(ctx, "mv.stage."+id+".>")
			if err != nil || time.Since(last.Time) < idle {
				continue
			}
		}
		b.purgeStage(ctx, id)
	}
	return nil
}

// orphaned tells whether a job's message in MV_INPUT, whose record does
// not exist, is the leftover of a commit that failed.
func (b *Bus) orphaned(m jetstream.Msg) bool {
	md, err := m.Metadata()
	if err != nil {
		return false
	}
	if b.embedded != nil && md.Timestamp.Before(b.started) {
		return true // from an earlier run: its commit will not finish
	}
	return time.Since(md.Timestamp) > commitGrace
}

// routeStaged routes the staged chunks of a job, deleting each once its
// tasks are in the work queue; a chunk found missing was routed before
// (the message was delivered again).
func (s *Scheduler) routeStaged(ctx context.Context, q queued) error {
	st, err := s.Bus.JS.Stream(ctx, StageStream)
	if err != nil {
		return err
	}
	for i := range q.Chunks {
		if i%16 == 15 {
			if rec, _, err := s.Bus.load(ctx, q.Job); err == nil && rec.State == Canceled {
				return nil
			}
		}
		raw, err := st.GetLastMsgForSubject(ctx, stageSubject(q.Job, i))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		var c chunk
		if err := json.Unmarshal(raw.Data, &c); err == nil {
			s.pace(ctx, q.Job, c.Start)
			if err := s.route(ctx, c); err != nil {
				return err
			}
		}
		_ = st.DeleteMsg(ctx, raw.Sequence)
	}
	return nil
}

// routeAhead is how many of a job's entries the scheduler routes past
// the job's done count. The work stream then holds a part of a large job,
// not all of it: the server keeps each 4 MB block of the stream it wrote
// or read in memory for 10 s, and a million tasks written at once were
// 20 such blocks at a time (80 MB).
const routeAhead = 32 * 1024

// pace waits, a second at most, until the job's done count is within
// routeAhead of entry next: a job whose results stall (greylisting)
// is still routed, a chunk a second.
func (s *Scheduler) pace(ctx context.Context, job string, next int) {
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); sleep(ctx, 50*time.Millisecond) {
		rec, _, err := s.Bus.load(ctx, job)
		if err != nil || next-rec.Done <= routeAhead || rec.State == Canceled || ctx.Err() != nil {
			return
		}
	}
}

// erase deletes what a job stored of its addresses: the staged upload,
// the results and the dead letters. Tasks still in the work queue are
// dropped by the workers, which see the job canceled.
func (b *Bus) erase(ctx context.Context, id string) {
	b.purgeStage(ctx, id)
	for stream, subject := range map[string]string{ResultsStream: jobResults(id), DeadStream: "mv.dead." + id} {
		if s, err := b.JS.Stream(ctx, stream); err == nil {
			_ = s.Purge(ctx, jetstream.WithPurgeSubject(subject))
		}
	}
}
