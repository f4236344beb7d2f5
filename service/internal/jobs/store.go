package jobs

import (
	"context"
	"errors"
	"strconv"

	"github.com/mailverify/mailverify/verify"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// storeResult stores the result of task t. A second result for the same
// entry (a redelivered task) is stored too, and read as none: the first
// stored counts (layout.go). It reports whether the stream took it.
func (b *Bus) storeResult(ctx context.Context, t task, r verify.Result) (bool, error) {
	_, err := b.JS.PublishMsg(ctx, resultMsg(t, r))
	return storedOnce(err)
}

// storeResultAsync is storeResult without waiting: the future tells.
func (b *Bus) storeResultAsync(t task, r verify.Result) (jetstream.PubAckFuture, error) {
	return b.JS.PublishMsgAsync(resultMsg(t, r))
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
// sequence means it was stored before (a redelivery under the old layout,
// whose publishes expected an empty subject), anything else failed.
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
