package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/verify"
	"github.com/nats-io/nats.go/jetstream"
)

// Unidentified mail servers (no known provider) share the numbered
// partitions, so a worker cannot leave one server's work to others by
// leaving a partition. When a server refuses a worker's egresses (its
// results end unknown/blocked, rate_limited or soft_limited) and another
// running worker has an egress that may reach it, the worker moves the
// server's tasks, one by one as they come, to a partition of that server
// alone: mv.work.<serverToken>.0, which the workers take or leave by the
// server's health like a provider's (routing.decide). From then on a
// worker that gets one of the server's tasks on a numbered partition
// sends it there before its engine sees it (followServer), so that one
// worker at a time still talks to the server. The consumer of such a
// partition goes once no worker has read it for the bus's retention.

// serverToken names the partition of an unidentified server by its
// provider key ("server:ADDR"): "s" and 20 hex digits of its hash, a
// valid subject token and provider name that no provider has.
func serverToken(pk string) string {
	h := sha256.Sum256([]byte(pk))
	return "s" + hex.EncodeToString(h[:10])
}

// learnLocked remembers the partition name of pk when it is an
// unidentified server's (r.mu held).
func (r *routing) learnLocked(pk string) {
	if !strings.HasPrefix(pk, "server:") {
		return
	}
	if len(r.servers) > 10000 {
		clear(r.servers)
	}
	r.servers[serverToken(pk)] = pk
}

func (r *routing) learn(pk string) {
	r.mu.Lock()
	r.learnLocked(pk)
	r.mu.Unlock()
}

// keyOf returns the provider key a partition's provider name stands for.
func (r *routing) keyOf(p string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if pk, ok := r.servers[p]; ok {
		return pk
	}
	return p
}

// serverKeyOf returns the provider key of the server r's address was
// refused at: the one its *egress.UnavailableError names, else its first
// mail server's (from the task, or looked up); "" when it is no
// unidentified server.
func (w *Worker) serverKeyOf(ctx context.Context, t task, r verify.Result) string {
	var ue *egress.UnavailableError
	if errors.As(r.Err, &ue) {
		if strings.HasPrefix(ue.Provider, "server:") {
			return ue.Provider
		}
		return ""
	}
	if r.Provider != "" {
		return ""
	}
	if t.Server != "" { // the scheduler's answer
		return egress.ProviderKey("", t.Server)
	}
	if s := w.Verifier.MailServer(ctx, t.Addr); s != "" {
		return egress.ProviderKey("", s)
	}
	return ""
}

// moveServer sends on a task of a numbered partition whose result says
// no egress of this worker could carry it to its unidentified server,
// when another running worker has one that may: to the server's own
// partition. It returns false when the result is to be stored (this
// worker has another egress for the server, or no worker has one: as
// before, it ends unknown with retry_after).
func (w *Worker) moveServer(ctx context.Context, h held, queued time.Time, r verify.Result) bool {
	pk := w.serverKeyOf(ctx, h.t, r)
	if pk == "" {
		return false
	}
	w.route.learn(pk)
	w.route.refresh(w.health, pk) // the engine's report may not have been watched yet
	if d := w.route.decide(pk, time.Now()); d.Mine || !d.Others {
		return false
	}
	token := serverToken(pk)
	if err := w.Bus.serverPartition(ctx, token); err != nil {
		logOrDiscard(w.Logger).Warn("worker: server partition", "err", err)
		return false
	}
	t := h.t
	t.Queued = queued // its budget goes on
	return w.sendTo(ctx, h.m, t, token)
}

// sendTo publishes t on the partition of token and acknowledges m, whose
// task it was; it returns false when the publish failed (m stays here).
func (w *Worker) sendTo(ctx context.Context, m jetstream.Msg, t task, token string) bool {
	data, err := json.Marshal(t)
	if err != nil {
		return false
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := w.Bus.JS.Publish(pctx, providerSubject(token, 0), data); err != nil {
		logOrDiscard(w.Logger).Warn("worker: move a task to its server's partition", "err", err)
		return false
	}
	// Lost, this ack delivers the task here again: it is moved once more,
	// and its result is stored once all the same.
	_ = m.Ack()
	return true
}

// followServer sends a task of a numbered partition, before the engine
// sees it, to its server's own partition when the server has one (its
// work was moved there before): from then on all of the server's tasks
// go there, so that one worker at a time talks to it, as the politeness
// limits need.
func (w *Worker) followServer(ctx context.Context, m jetstream.Msg, t task) bool {
	if w.route == nil || w.pump == nil || t.Server == "" || providerOfSubject(m.Subject()) != "" {
		return false
	}
	token := serverToken(egress.ProviderKey("", t.Server))
	if !w.pump.knows(providerConsumer(token, 0)) {
		return false
	}
	md, err := m.Metadata()
	if err != nil {
		return false
	}
	t.Queued = queuedAt(t, md)
	return w.sendTo(ctx, m, t, token)
}

// knows tells whether a provider partition's consumer exists.
func (p *pump) knows(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Contains(p.known, name)
}

// serverPartition creates (once per process) the consumer of an
// unidentified server's partition, pinned like the others; it goes once
// no worker has read it for the bus's retention (by then its jobs are
// gone).
func (b *Bus) serverPartition(ctx context.Context, token string) error {
	name := providerConsumer(token, 0)
	if _, ok := b.made.Load(name); ok {
		return nil
	}
	c := b.pinned(jetstream.ConsumerConfig{Durable: name, FilterSubject: providerSubject(token, 0),
		MaxAckPending: b.maxAckPending(), MaxDeliver: b.maxDeliver(), AckWait: b.ackWait(),
		InactiveThreshold: b.retention()})
	if _, err := b.JS.CreateOrUpdateConsumer(ctx, WorkStream, c); err != nil {
		return err
	}
	b.made.Store(name, true)
	return nil
}
