package verify

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

// placeHonest is an honest (or honestly protective) server model of the
// older tests, for TestReviewPlaceHonestNotMarked.
type placeHonest struct {
	name    string
	rule    domainRule // for every domain
	one     domainRule // for sp1.com only, where set
	noPipe  bool
	latency time.Duration
}

func placeHonests() []placeHonest {
	noReason := func(s *sharedServer, _ *testsmtp.Conn, a string) testsmtp.Reply {
		if s.known[a] {
			return testsmtp.R(250, "2.1.5", "Ok")
		}
		return testsmtp.R(550, "", "Rejected")
	}
	rate4xx := func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply {
		k := fmt.Sprint("rate", c.Index)
		s.count[k]++
		if s.count[k]%3 == 0 {
			return testsmtp.R(450, "4.7.1", "Rate limit exceeded, slow down")
		}
		return s.honest(a)
	}
	// A catch-all that refuses the list's unknown addresses by name (a
	// deleted-users list) and takes everything else.
	cawr := func(s *sharedServer, _ *testsmtp.Conn, a string) testsmtp.Reply {
		if _, ok := s.known[a]; ok && !s.known[a] {
			return s.honest(a)
		}
		return testsmtp.R(250, "2.1.5", "Ok")
	}
	honest := (*sharedServer).honestRule
	h := func(s *sharedServer, c *testsmtp.Conn, a string) testsmtp.Reply { return honest(s, c, a) }
	return []placeHonest{
		{name: "honest", rule: h},
		{name: "honest,nopipe", rule: h, noPipe: true},
		{name: "grey20s", rule: greyRule(20 * time.Second)},
		{name: "grey20s,nopipe", rule: greyRule(20 * time.Second), noPipe: true},
		{name: "rate4xx-every-third", rule: rate4xx},
		{name: "rate4xx-every-third,nopipe", rule: rate4xx, noPipe: true},
		{name: "no-reason-550", rule: noReason},
		{name: "no-reason-550,nopipe", rule: noReason, noPipe: true},
		{name: "catchall-with-rejects-on-sp1", rule: h, one: cawr},
		{name: "catchall-with-rejects-on-sp1,nopipe", rule: h, one: cawr, noPipe: true},
		{name: "cap1-per-conn", rule: capPerConn(1, h)},
		{name: "cap2-per-conn", rule: capPerConn(2, h)},
		{name: "harvest3-conn-511", rule: harvestRule(3, connScope, lies["5.1.1"])},
		{name: "harvest3-domain-511", rule: harvestRule(3, domainScope, lies["5.1.1"])},
		{name: "harvest3-client-521", rule: harvestRule(3, clientScope, lies["5.2.1"])},
		{name: "harvest3-conn-511,nopipe", rule: harvestRule(3, connScope, lies["5.1.1"]), noPipe: true},
		{name: "softrate100ms,rtt300ms", rule: softRate(100 * time.Millisecond), latency: 300 * time.Millisecond},
		{name: "softrate100ms,rtt300ms,nopipe", rule: softRate(100 * time.Millisecond), latency: 300 * time.Millisecond, noPipe: true},
		{name: "softrate1s,rtt300ms,nopipe", rule: softRate(time.Second), latency: 300 * time.Millisecond, noPipe: true},
	}
}

// placeHonestCase runs groupSizes at one server answering as hm, at rate
// RCPTs a second, and returns the deliverable results, the accepted ones
// left unknown for the by-place mark, and the wrong definite verdicts.
func placeHonestCase(t *testing.T, hm placeHonest, rate float64) (deliv, marked, wrong int) {
	known, addrs := groupAddrs(groupSizes)
	rules := map[string]domainRule{}
	for d := range groupSizes {
		rules[d] = hm.rule
	}
	if hm.one != nil {
		rules["sp1.com"] = hm.one
	}
	w, s := reviewWorld(t, known, rules)
	v := w.verifier()
	v.PerHostRate = rate
	paced(v)
	s.srv.Latency = 10 * time.Millisecond
	if hm.latency > 0 {
		s.srv.Latency = hm.latency
	}
	if hm.noPipe {
		s.srv.Extensions = []string{"8BITMIME", "SIZE 10240000"}
	}
	for _, r := range v.VerifyAll(t.Context(), addrs) {
		_, d, _ := strings.Cut(r.Input, "@")
		honestDomain := hm.one == nil || d != "sp1.com"
		switch {
		case r.Status == Deliverable:
			deliv++
			wrong += boolInt(!known[r.Input] && honestDomain)
		case r.Status == Undeliverable:
			wrong += boolInt(known[r.Input])
		case placeMarked(r):
			marked++
		}
	}
	return deliv, marked, wrong
}

// TestReviewPlaceHonestNotMarked: the older tests' honest servers and
// honest protections (greylisting, 4xx rate limits, refusals naming no
// reason, a catch-all that refuses its deleted users by name beside
// honest domains, per-connection caps, harvest protections, rate spells)
// are never marked as answering by place: a mark there turns right
// deliverables into unknown/cannot_verify. It logs the deliverables of
// each, to compare with main before 21808ff.
func TestReviewPlaceHonestNotMarked(t *testing.T) {
	for _, hm := range placeHonests() {
		for _, rate := range []float64{3, 1000} {
			t.Run(fmt.Sprintf("%s,rate=%v", hm.name, rate), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					deliv, marked, wrong := placeHonestCase(t, hm, rate)
					t.Logf("COUNT %s,rate=%v: deliverable %d, marked %d, wrong %d", hm.name, rate, deliv, marked, wrong)
					if marked > 0 {
						t.Errorf("%d acceptances left unknown by place at a server that does not answer by place", marked)
					}
				})
			})
		}
	}
}

var placeCount = flag.Int("place.count", 0, "TestReviewPlaceCountDeliverables: worlds to count deliverables in (0: skip)")

// TestReviewPlaceCountDeliverables runs phase one of TestSoundness's
// worlds (the same seeds and configs) and logs how many addresses end
// deliverable, how many of them exist, and how many accepted ones end
// unknown for the by-place mark: what a false mark costs.
func TestReviewPlaceCountDeliverables(t *testing.T) {
	if *placeCount == 0 {
		t.Skip("-place.count not set")
	}
	var deliv, exist, wrong, unk, byPlaceN int
	for seed := range uint64(*placeCount) {
		synctest.Test(t, func(t *testing.T) {
			sw := genWorld(seed)
			defer sw.router.close()
			rng := rand.New(rand.NewPCG(seed, 7))
			cfg := genConfig(rng)
			v := cfg.verifier(sw)
			ctx, cancel := context.WithTimeout(t.Context(), sw.budget)
			defer cancel()
			n := 0
			for i, r := range v.VerifyAll(ctx, sw.addrs) {
				a := sw.addrs[i]
				exist += boolInt(sw.exists[a])
				switch {
				case r.Status == Deliverable:
					deliv++
					n++
					wrong += boolInt(!sw.exists[a])
				case r.Status == Unknown:
					unk++
					if placeMarked(r) {
						byPlaceN++
						t.Logf("seed %d: %s (exists %v) unknown by place", seed, a, sw.exists[a])
					}
				}
			}
		})
	}
	t.Logf("worlds %d: deliverable %d (wrong %d), existing addresses %d, unknown %d, by place %d", *placeCount, deliv, wrong, exist, unk, byPlaceN)
}

// placeMarked reports whether r is an acceptance left unknown because the
// server was marked as answering by place.
func placeMarked(r Result) bool { return errors.Is(r.Err, errByPlace) }
