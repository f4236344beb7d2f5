package verify

import (
	"testing"
	"time"
)

// TestPlanCountsOneProbeAsPairFirst: where new domains' catch-all probes
// go alone first (a server seen to refuse naming no reason), only the
// last of them shares the batch's transaction, just before its domain's
// fronts, and is that domain's pair's first (engine.serve's lead); the
// other domains' flushes carry the whole pair. Two new domains of one
// address each then cost 9 RCPTs of the flush's room: two probes, three
// fronts, the two addresses and their two canaries. With room for 8, the
// batch takes one domain; counting each probe as its pair's first, the
// plan took both and the flush went one over its room.
func TestPlanCountsOneProbeAsPairFirst(t *testing.T) {
	for _, tc := range []struct{ room, want int }{{8, 1}, {9, 2}} {
		e := newEngine(t.Context(), &Verifier{})
		key := "127.0.0.1:25"
		e.refusals[key] = refusedNaming | refusedVaguely // new domains' probes go alone (trailsFirst)
		e.pmSeen[key] = pmRefused                        // no postmaster@ control after the canaries
		var jobs []*job
		for _, name := range []string{"a.com", "b.com"} {
			d := &domainState{name: name}
			hr := &hostRun{e: e, d: d, key: key}
			jobs = append(jobs, &job{run: hr, d: d, wire: "u0@" + name, dlIndex: -1, start: time.Now()})
		}
		q := &hostQueue{key: key, jobs: jobs}
		e.mu.Lock()
		for _, j := range jobs {
			if !e.probeDue(j.run) || !j.run.pairDue() || j.run.flushControlDue() {
				t.Fatalf("set-up: %s: probe due %v, pair due %v, control due %v; want a probe and a pair and no control",
					j.wire, e.probeDue(j.run), j.run.pairDue(), j.run.flushControlDue())
			}
		}
		batch, _ := e.take(q, flushRoom{rcpts: tc.room, fresh: 9, burst: 20, inline: true, fronts: true}, time.Now())
		e.mu.Unlock()
		if len(batch) != tc.want {
			t.Errorf("room %d: the batch took %d addresses, want %d (two new domains cost 9 RCPTs: one probe only is its pair's first)",
				tc.room, len(batch), tc.want)
		}
	}
}
