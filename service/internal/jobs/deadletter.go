package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/mailverify/mailverify/verify"
	"github.com/nats-io/nats.go"
)

// A Janitor removes the uploads that never became jobs (SweepUploads,
// every minute) and ends the tasks no worker could finish: when a task reaches
// MaxDeliver (its worker died on each delivery, say), it is copied to
// the dead-letter stream, its address ends unknown with the reason, and it
// leaves the work queue, so that every job completes.
type Janitor struct {
	Bus    *Bus
	Logger *slog.Logger
}

type deliveryExceeded struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// Run handles the server's max-deliveries advisories until ctx ends.
func (j *Janitor) Run(ctx context.Context) error {
	ch := make(chan *nats.Msg, 256)
	sub, err := j.Bus.NC.ChanQueueSubscribe("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES."+WorkStream+".*", "janitor", ch)
	if err != nil {
		return err
	}
	defer func() { _ = sub.Unsubscribe() }()
	sweep := time.NewTicker(time.Minute)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sweep.C:
			if err := j.Bus.SweepUploads(ctx, uploadIdle); err != nil && ctx.Err() == nil {
				logOrDiscard(j.Logger).Warn("janitor: sweep uploads", "err", err)
			}
		case m := <-ch:
			var adv deliveryExceeded
			if err := json.Unmarshal(m.Data, &adv); err != nil {
				continue
			}
			if err := j.bury(ctx, adv); err != nil {
				logOrDiscard(j.Logger).Warn("janitor: dead letter", "seq", adv.StreamSeq, "err", err)
			}
		}
	}
}

func (j *Janitor) bury(ctx context.Context, adv deliveryExceeded) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := j.Bus.JS.Stream(ctx, WorkStream)
	if err != nil {
		return err
	}
	raw, err := s.GetMsg(ctx, adv.StreamSeq)
	if err != nil {
		return nil // acknowledged meanwhile (a late result): nothing to do
	}
	var t task
	if err := json.Unmarshal(raw.Data, &t); err != nil {
		return s.DeleteMsg(ctx, adv.StreamSeq)
	}
	if _, err := j.Bus.JS.Publish(ctx, "mv.dead."+t.Job, raw.Data); err != nil {
		return err
	}
	msg := fmt.Sprintf("no worker finished verifying it in %d deliveries; dead-lettered", adv.Deliveries)
	r := verify.Result{Input: item{Addr: t.Addr, Raw: t.Raw}.raw(), Status: verify.Unknown, Reason: verify.ReasonTimeout, Error: msg}
	if _, err := j.Bus.storeResult(ctx, t, r); err != nil {
		return err
	}
	return s.DeleteMsg(ctx, adv.StreamSeq)
}
