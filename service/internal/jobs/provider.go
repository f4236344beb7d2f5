package jobs

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mailverify/mailverify/mx"
	"github.com/nats-io/nats.go/jetstream"
)

// providerSlots is how many partitions each identified mail provider
// (mx.ProviderOf: google, microsoft365, yahoo, ...) has. A provider's
// tasks go to its own partitions, mv.work.<provider>.<slot>, by their mail
// server (so that one worker at a time still talks to each server), and
// a worker takes a provider's partitions only while it has an egress the
// provider has not backed off (see Worker and routing). The addresses of
// unidentified servers stay on the numbered partitions, mv.work.<n>.
const providerSlots = 4

// providerName is what a provider's name may be to become a subject token
// and part of a consumer's name.
var providerName = regexp.MustCompile(`^[a-z0-9]{1,40}$`)

func providerSubject(provider string, slot int) string {
	return fmt.Sprintf("mv.work.%s.%d", provider, slot)
}

func providerConsumer(provider string, slot int) string {
	return fmt.Sprintf("part-%s-%d", provider, slot)
}

// providerOfConsumer returns the provider whose partition a consumer
// name is, or "" for a numbered partition (or another consumer).
func providerOfConsumer(name string) string {
	rest, ok := strings.CutPrefix(name, "part-")
	if !ok {
		return ""
	}
	p, _, ok := strings.Cut(rest, "-")
	if !ok || !providerName.MatchString(p) {
		return ""
	}
	return p
}

// providerPartition creates (once per process) the consumer of a
// provider's partition: pinned to one worker at a time, as the numbered
// ones.
func (b *Bus) providerPartition(ctx context.Context, provider string, slot int) error {
	name := providerConsumer(provider, slot)
	if _, ok := b.made.Load(name); ok {
		return nil
	}
	c := b.pinned(jetstream.ConsumerConfig{Durable: name, FilterSubject: providerSubject(provider, slot),
		MaxAckPending: b.maxAckPending(), MaxDeliver: b.maxDeliver(), AckWait: b.ackWait()})
	if _, err := b.JS.CreateOrUpdateConsumer(ctx, WorkStream, c); err != nil {
		return fmt.Errorf("service: consumer %s: %w", name, err)
	}
	b.made.Store(name, true)
	return nil
}

// pinned gives a partition's consumer its settings: one worker at a time.
func (b *Bus) pinned(c jetstream.ConsumerConfig) jetstream.ConsumerConfig {
	c.AckPolicy = jetstream.AckExplicitPolicy
	c.PriorityPolicy = jetstream.PriorityPolicyPinned
	c.PriorityGroups = []string{priorityGroup}
	c.PinnedTTL = b.pinnedTTL()
	c.Replicas = b.replicas()
	return c
}

// workConsumers lists the partitions' consumers of the work stream.
func (b *Bus) workConsumers(ctx context.Context) ([]string, error) {
	s, err := b.JS.Stream(ctx, WorkStream)
	if err != nil {
		return nil, err
	}
	var out []string
	l := s.ConsumerNames(ctx)
	for name := range l.Name() {
		if strings.HasPrefix(name, "part-") {
			out = append(out, name)
		}
	}
	if err := l.Err(); err != nil {
		return nil, err
	}
	slices.Sort(out)
	return out, nil
}

// providers remembers the provider each mail server's tasks go to (see
// forServer).
type providers struct {
	mu      sync.Mutex
	servers map[string]providerEntry // by mail server address
}

type providerEntry struct {
	provider string
	at       time.Time
}

const providerTTL = 10 * time.Minute

// providerOf names the provider of an MX host (mx.ProviderOf), "" when
// none is identified or the name cannot be a subject token. The host
// comes from the lookup that found the address's mail server
// (Verifier.MailServerHost): a new domain costs one MX lookup, not two.
func providerOf(host string) string {
	p := string(mx.ProviderOf(host))
	if !providerName.MatchString(p) {
		return ""
	}
	return p
}

// forServer returns the provider a mail server's tasks go to: the first
// one seen for it (until it goes unused for providerTTL), so that a server reached through
// MX names of a provider and through names of no provider (a domain's
// own name for the provider's address) stays in one partition, and one
// worker at a time talks to it.
func (p *providers) forServer(server, provider string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.servers == nil {
		p.servers = map[string]providerEntry{}
	}
	if e, ok := p.servers[server]; ok && time.Since(e.at) < providerTTL {
		p.servers[server] = providerEntry{e.provider, time.Now()} // while in use, it stays
		return e.provider
	}
	if len(p.servers) > 10000 {
		clear(p.servers)
	}
	p.servers[server] = providerEntry{provider, time.Now()}
	return provider
}
