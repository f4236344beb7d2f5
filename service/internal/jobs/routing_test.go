package jobs

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/egress"
)

// TestRoutingDecide: which worker takes a provider's partitions, from
// the declarations and the shared health.
func TestRoutingDecide(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	blocked := func(until time.Duration) egress.Record {
		return egress.Record{State: egress.StateBlocked, Until: now.Add(until)}
	}
	probing := egress.Record{State: egress.StateHalfOpen, ProbeUntil: now.Add(time.Minute)}
	worker := func(id string, es ...DeclaredEgress) Declaration {
		return Declaration{ID: id, Seen: now.Add(-time.Second), Egresses: es}
	}
	eg := func(id string, pins ...string) DeclaredEgress { return DeclaredEgress{ID: id, Providers: pins} }
	for _, c := range []struct {
		name     string
		self     Declaration
		others   []Declaration
		health   map[egress.Key]egress.Record
		provider string
		want     decision
	}{
		{name: "healthy", self: worker("a", eg("ea")), provider: "google", want: decision{Mine: true}},
		{name: "blocked, another healthy", self: worker("a", eg("ea")), others: []Declaration{worker("b", eg("eb"))},
			health:   map[egress.Key]egress.Record{{Egress: "ea", Provider: "google"}: blocked(time.Hour)},
			provider: "google", want: decision{Others: true, Comeback: now.Add(time.Hour)}},
		{name: "blocked for another provider only", self: worker("a", eg("ea")), others: []Declaration{worker("b", eg("eb"))},
			health:   map[egress.Key]egress.Record{{Egress: "ea", Provider: "yahoo"}: blocked(time.Hour)},
			provider: "google", want: decision{Mine: true, Others: true}},
		{name: "back-off over", self: worker("a", eg("ea")),
			health:   map[egress.Key]egress.Record{{Egress: "ea", Provider: "google"}: blocked(-time.Second)},
			provider: "google", want: decision{Mine: true}},
		{name: "a probe is out", self: worker("a", eg("ea")), others: []Declaration{worker("b", eg("eb"))},
			health:   map[egress.Key]egress.Record{{Egress: "ea", Provider: "google"}: probing},
			provider: "google", want: decision{Others: true, Comeback: now.Add(time.Minute)}},
		{name: "one of two egresses blocked", self: worker("a", eg("ea"), eg("ea2")),
			health:   map[egress.Key]egress.Record{{Egress: "ea", Provider: "google"}: blocked(time.Hour)},
			provider: "google", want: decision{Mine: true, Comeback: now.Add(time.Hour)}},
		{name: "everyone blocked: the earliest comeback", self: worker("a", eg("ea")), others: []Declaration{worker("b", eg("eb"))},
			health: map[egress.Key]egress.Record{{Egress: "ea", Provider: "google"}: blocked(time.Hour),
				{Egress: "eb", Provider: "google"}: blocked(2 * time.Minute)},
			provider: "google", want: decision{Comeback: now.Add(2 * time.Minute)}},
		{name: "a worker gone is no help", self: worker("a", eg("ea")),
			others:   []Declaration{{ID: "b", Seen: now.Add(-declaredFor), Egresses: []DeclaredEgress{eg("eb")}}},
			health:   map[egress.Key]egress.Record{{Egress: "ea", Provider: "google"}: blocked(time.Hour)},
			provider: "google", want: decision{Comeback: now.Add(time.Hour)}},
		{name: "a direct worker always may", self: worker("a", eg("ea")), others: []Declaration{worker("b")},
			health:   map[egress.Key]egress.Record{{Egress: "ea", Provider: "google"}: blocked(time.Hour)},
			provider: "google", want: decision{Others: true, Comeback: now.Add(time.Hour)}},
		{name: "pinned elsewhere", self: worker("a", eg("ea", "microsoft365"), eg("ea2", "yahoo")),
			others: []Declaration{worker("b", eg("eb"))}, provider: "google", want: decision{Others: true}},
		{name: "a star serves the unpinned", self: worker("a", eg("ea", "microsoft365"), eg("ea2", "*")),
			provider: "google", want: decision{Mine: true}},
		{name: "the other's egress is pinned away", self: worker("a", eg("ea")), others: []Declaration{worker("b", eg("eb", "yahoo"))},
			health:   map[egress.Key]egress.Record{{Egress: "ea", Provider: "google"}: blocked(time.Hour)},
			provider: "google", want: decision{Comeback: now.Add(time.Hour)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRouting(c.self)
			r.workers[c.self.ID] = c.self
			for _, o := range c.others {
				r.workers[o.ID] = o
			}
			for k, v := range c.health {
				r.health[k] = v
			}
			got := r.decide(c.provider, now)
			if got != c.want {
				t.Errorf("decide = %+v; want %+v", got, c.want)
			}
			if take := got.Mine || !got.Others; got.Take() != take {
				t.Errorf("Take = %v", got.Take())
			}
		})
	}
}

func TestProviderNames(t *testing.T) {
	for _, c := range []struct{ subject, consumer, provider string }{
		{providerSubject("google", 3), providerConsumer("google", 3), "google"},
		{workSubject(7), partitionConsumer(7), ""},
	} {
		if got := providerOfSubject(c.subject); got != c.provider {
			t.Errorf("providerOfSubject(%q) = %q; want %q", c.subject, got, c.provider)
		}
		if got := providerOfConsumer(c.consumer); got != c.provider {
			t.Errorf("providerOfConsumer(%q) = %q; want %q", c.consumer, got, c.provider)
		}
	}
	if providerName.MatchString("server:1.2.3.4") || providerName.MatchString("") || !providerName.MatchString("microsoft365") {
		t.Error("providerName admits a name that cannot be a subject token, or refuses a provider's")
	}
}

// TestOneServerOnePartition: a mail server reached through a provider's
// MX name and through a name of no provider keeps the provider it was
// first seen with, so that its tasks stay in one partition.
func TestOneServerOnePartition(t *testing.T) {
	var p providers
	if got := p.forServer("192.0.2.1:25", "google"); got != "google" {
		t.Errorf("first sight: %q", got)
	}
	if got := p.forServer("192.0.2.1:25", ""); got != "google" {
		t.Errorf("the same server under a name of no provider: %q; want google", got)
	}
	if got := p.forServer("192.0.2.2:25", ""); got != "" {
		t.Errorf("another server: %q", got)
	}
	if got := p.forServer("192.0.2.2:25", "yahoo"); got != "" {
		t.Errorf("a server first seen with no provider: %q; want it kept", got)
	}
}

// TestSchedulerOneLookupPerDomain: the scheduler learns an address's
// provider from the lookup that found its mail server: one MX query per
// new domain, and a provider's addresses still go to its partitions.
func TestSchedulerOneLookupPerDomain(t *testing.T) {
	w := newEgressWorld(t, "")
	g, p := w.domains("g", "gmail-smtp-in.l.google.com", 3), w.domains("p", "mx.plain-host.test", 3)
	b := openBus(t, Config{Partitions: 2})
	defer b.Close()
	s := &Scheduler{Bus: b, Verifier: w.verifier()}
	var items []item
	for _, a := range append(g, p...) {
		items = append(items, item{Addr: a})
	}
	if err := s.route(t.Context(), chunk{Job: "j1", Items: items}); err != nil {
		t.Fatal(err)
	}
	for _, a := range append(g, p...) {
		_, d, _ := strings.Cut(a, "@")
		if n := w.res.Queries("MX", d); n != 1 {
			t.Errorf("%s: %d MX queries; want 1", d, n)
		}
	}
	names, err := b.workConsumers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(names, func(n string) bool { return providerOfConsumer(n) == "google" }) {
		t.Errorf("consumers %v; want a partition of google's", names)
	}
}
