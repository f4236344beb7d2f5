package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// KV buckets allow direct gets, which any replica answers: in a cluster a
// follower that has not applied a write yet answers "no such key" for a
// record its own writer has just stored (a job created, then asked for at
// once: 404). leaderGet asks the stream's leader instead, which answers
// only with what the quorum stored. It is the second try of a read that
// found nothing, so the common read stays direct.
func (b *Bus) leaderGet(ctx context.Context, bucket, key string) ([]byte, uint64, error) {
	data, seq, hdrs, err := b.leaderLast(ctx, "KV_"+bucket, "$KV."+bucket+"."+key)
	if err == nil && kvDeleted(hdrs) {
		return nil, 0, jetstream.ErrKeyNotFound
	}
	return data, seq, err
}

// leaderLast asks a stream's leader for the last message on a subject:
// its data, sequence and headers as stored; jetstream.ErrKeyNotFound
// when there is none.
func (b *Bus) leaderLast(ctx context.Context, stream, subject string) ([]byte, uint64, []byte, error) {
	return b.leaderMsg(ctx, stream, map[string]any{"last_by_subj": subject})
}

// leaderMsg asks a stream's leader for the message a get request names.
func (b *Bus) leaderMsg(ctx context.Context, stream string, get map[string]any) ([]byte, uint64, []byte, error) {
	m, err := b.leaderStored(ctx, stream, get)
	if err != nil {
		return nil, 0, nil, err
	}
	return m.Data, m.Seq, m.Hdrs, nil
}

// A leaderAnswer is a message as a stream's leader gives it.
type leaderAnswer struct {
	Subject string `json:"subject"`
	Seq     uint64 `json:"seq"`
	Data    []byte `json:"data"`
	Hdrs    []byte `json:"hdrs"`
}

// leaderStored asks a stream's leader for the message a get request
// names, with its subject.
func (b *Bus) leaderStored(ctx context.Context, stream string, get map[string]any) (*leaderAnswer, error) {
	req, _ := json.Marshal(get)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	msg, err := b.NC.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET."+stream, req)
	if err != nil {
		return nil, err
	}
	var resp struct {
		Message *leaderAnswer `json:"message"`
		Error   *struct {
			Code        int    `json:"code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return nil, fmt.Errorf("jobs: the stream leader's answer: %w", err)
	}
	switch {
	case resp.Error != nil && resp.Error.Code == 404:
		return nil, jetstream.ErrKeyNotFound
	case resp.Error != nil:
		return nil, errors.New("jobs: the stream leader: " + resp.Error.Description)
	case resp.Message == nil:
		return nil, jetstream.ErrKeyNotFound
	}
	return resp.Message, nil
}

// kvDeleted reports a KV delete or purge marker in a stored message's
// headers (KV-Operation: DEL or PURGE).
func kvDeleted(hdrs []byte) bool {
	h := strings.ToLower(string(hdrs))
	return strings.Contains(h, "kv-operation: del") || strings.Contains(h, "kv-operation: purge")
}

// rawIndex is the entry a stored result is for, from its headers as
// stored (NATS/1.0 and a line a header); false without one.
func rawIndex(hdrs []byte) (int, bool) {
	for line := range strings.SplitSeq(string(hdrs), "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), indexHeader) {
			i, err := strconv.Atoi(strings.TrimSpace(v))
			return i, err == nil && i >= 0 && i < maxEntries
		}
	}
	return 0, false
}
