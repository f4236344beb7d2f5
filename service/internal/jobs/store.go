package jobs

import (
	"context"
	"errors"
	"strconv"

	"github.com/mailverify/mailverify/verify"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// storeResult stores the result of task t, once: a second
// result for the same input is dropped by the stream (the publish expects
// the subject to be empty). It reports whether this call stored it.
func (b *Bus) storeResult(ctx context.Context, t task, r verify.Result) (bool, error) {
	_, err := b.JS.PublishMsg(ctx, resultMsg(t, r), jetstream.WithExpectLastSequencePerSubject(0))
	return storedOnce(err)
}

// storeResultAsync is storeResult without waiting: the future tells.
func (b *Bus) storeResultAsync(t task, r verify.Result) (jetstream.PubAckFuture, error) {
	return b.JS.PublishMsgAsync(resultMsg(t, r), jetstream.WithExpectLastSequencePerSubject(0))
}

func resultMsg(t task, r verify.Result) *nats.Msg {
	msg := nats.NewMsg(resultSubject(t.Job, t.Index))
	msg.Data = r.AppendJSON(nil)
	msg.Header.Set(indexHeader, strconv.Itoa(t.Index))
	if t.Ref != "" {
		msg.Header.Set(refHeader, t.Ref)
	}
	return msg
}

// storedOnce reads a publish's error: nil stored it, a wrong last
// sequence means it was stored before (a redelivery), anything else
// failed.
func storedOnce(err error) (bool, error) {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
		return false, nil
	}
	return err == nil, err
}

const (
	indexHeader = "Mv-Index"
	refHeader   = "Mv-Ref"
)
