package service

import (
	"context"
	"errors"
	"strconv"

	"github.com/mailverify/mailverify/verify"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// storeResult stores the result of a job's index-th input, once: a second
// result for the same input is dropped by the stream (the publish expects
// the subject to be empty). It reports whether this call stored it.
func (b *Bus) storeResult(ctx context.Context, job string, index int, r verify.Result) (bool, error) {
	msg := nats.NewMsg(resultSubject(job, index))
	msg.Data = r.AppendJSON(nil)
	msg.Header.Set(indexHeader, strconv.Itoa(index))
	_, err := b.JS.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(0))
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
		return false, nil // stored before: a redelivery
	}
	return err == nil, err
}

const indexHeader = "Mv-Index"
