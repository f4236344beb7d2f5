package verify

import (
	"slices"
	"time"
)

// maxHold is how long the jobs of a domain at a server wait in its queue
// behind the jobs of denser domains (groupOrder) before they go ahead of
// them: from when the first of them was read, or from the domain's last
// flush at the server when that came later.
const maxHold = 30 * time.Second

// groupOrder returns the places of jobs (the first places of q) grouped
// by hostRun, in the order take offers them to the next flush, and how
// many of the first groups go now: their first chunk in part where it
// does not fit the flush whole (take). In order:
//   - groups holding a greylisting retry now due (unpark), in queue order,
//     so that a deep queue does not add its length to the greylisting
//     wait. They go now.
//   - where the server's pace binds (spare), groups that waited maxHold
//     or more, the longest waiting first. A group waits from when its
//     first job was read, or from its run's last flush at the server
//     when that came later (q.served; not where the host greylists the
//     domain): a domain flushed within maxHold goes on by density. Their first chunks go whole, in the first
//     flush with room for them (a chunk is what a fresh connection's
//     flush carries): in part, a domain's jobs would go in more flushes,
//     each with its front and canary (BulkPolite: 1.73 to 2.0 flushes per
//     domain at the busiest server). A group that waited twice maxHold
//     goes now.
//   - the others: in queue order, except where the pace binds: there the
//     groups with the most jobs go first. Each flush of a domain costs
//     its front and canary (canary.go), RCPTs the pace counts, and a
//     domain with few jobs queued now has more queued later, as the list
//     is read: waiting, they go in fewer flushes, while the server is
//     kept busy with the others.
//
// So, unless groups that waited longer (or retries) fill the flushes, a
// job is offered first within maxHold of being read and goes within
// twice maxHold and a flush. e.mu is held.
func groupOrder(q *hostQueue, jobs []*job, spare bool, now time.Time) ([][]int, int) {
	gs := groupsOf(jobs)
	type place struct {
		g     []int
		class int       // 0: a retry due, 1: waited maxHold, 2: others
		since time.Time // when it began to wait
	}
	ps := make([]place, len(gs))
	n := 0
	for k, g := range gs {
		p := place{g: g, class: 2, since: jobs[g[0]].start}
		if hr := jobs[g[0]].run; hr.greySince.IsZero() && q.served[hr].After(p.since) {
			// Not where the host greylists the domain: the jobs there
			// wait from when they were read, as enqueue puts them early,
			// so that their greylisting wait overlaps the queue's work
			// (a wait started anew at each flush left addresses
			// greylisted at the end of GreylistMaxWait).
			p.since = q.served[hr]
		}
		switch {
		case slices.ContainsFunc(g, func(i int) bool { return jobs[i].greyRetried }):
			p.class = 0
		case spare && now.Sub(p.since) >= maxHold:
			p.class = 1
		}
		// A retry due goes now, in part if need be; so does a group that
		// waited twice maxHold. Other old groups go first, but each
		// first chunk whole: in part, a domain's addresses would go in
		// more flushes, each with its front and canary.
		n += boolInt(p.class == 0 || p.class == 1 && now.Sub(p.since) >= 2*maxHold)
		ps[k] = p
	}
	slices.SortStableFunc(ps, func(a, b place) int {
		switch {
		case a.class != b.class:
			return a.class - b.class
		case a.class == 1:
			return a.since.Compare(b.since)
		case a.class == 2 && spare:
			return len(b.g) - len(a.g)
		}
		return 0
	})
	for k, p := range ps {
		gs[k] = p.g
	}
	return gs, n
}

// groupsOf returns the places of jobs grouped by hostRun, in the order of
// each group's first job.
func groupsOf(jobs []*job) [][]int {
	at := map[*hostRun]int{}
	var gs [][]int
	for i, j := range jobs {
		k, ok := at[j.run]
		if !ok {
			k = len(gs)
			at[j.run] = k
			gs = append(gs, nil)
		}
		gs[k] = append(gs[k], i)
	}
	return gs
}

// flushed records that runs had jobs in a batch taken at now. Runs with
// no job left at the server are forgotten now and then, when the record
// has doubled since: the work stays in proportion to the flushes. e.mu is
// held.
func (q *hostQueue) flushed(runs []*hostRun, now time.Time) {
	if len(runs) == 0 {
		return
	}
	if q.served == nil {
		q.served = map[*hostRun]time.Time{}
	}
	for _, hr := range runs {
		q.served[hr] = now
	}
	if len(q.served) >= max(64, 2*q.kept) {
		for hr := range q.served {
			if hr.pending == 0 {
				delete(q.served, hr)
			}
		}
		q.kept = len(q.served)
	}
}
