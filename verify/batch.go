package verify

import (
	"slices"
	"time"

	"github.com/mailverify/mailverify/catchall"
)

// groupScan is how far into a queue take looks for more addresses of the
// domains already in a batch.
const groupScan = 1024

// A batchPlan is the batch take is filling: what it costs in the flush's
// room and in the transaction.
type batchPlan struct {
	e           *engine
	room, txCap int
	used, tx    int
	spare       bool       // leave trailing probes a refusal of the error budget
	inline      bool       // the canaries go in the batch's own flush
	fronts      bool       // a random address of each domain goes at the front (canary.go)
	led         bool       // a domain's catch-all probe is counted as its pair's first
	burst       int        // RCPTs the batch and its trailing probes may take of the bucket
	trail       int        // RCPTs of the trailing probes (and controls) that may follow
	picked      []int      // places in the queue, in the order taken
	probed      []*hostRun // runs whose catch-all probe goes with the batch
	runs        []*hostRun // runs in the batch
	groups      []group    // per run, the addresses asked at the host before (of one flush) and the others
}

// A group is one run's addresses in a batch that were first asked at the
// host where first says (zero: not asked there before). A batch asks
// again the addresses of one flush of a run at most: only what was held
// for them fronts them (hostRun.heldFronts).
type group struct {
	hr    *hostRun
	first askKey
}

// add takes the job at place i of jobs when it fits (the first always
// does), counting its domain's first probe and the room its trailing
// probe (and control) needs in the transaction.
func (p *batchPlan) add(jobs []*job, i int) bool {
	hr, cost, txCost, trail := jobs[i].run, 1, 1, 0
	g := group{hr, jobs[i].first}
	newGroup := !slices.Contains(p.groups, g)
	if newGroup && g.first.tick != 0 && slices.ContainsFunc(p.groups, func(x group) bool { return x.hr == hr && x.first.tick != 0 }) {
		return false // another flush's addresses asked again: a batch of their own
	}
	first := p.e.probeDue(hr) && !slices.Contains(p.probed, hr)
	if first {
		cost++
	}
	newRun := !slices.Contains(p.runs, hr)
	if newRun && p.e.trailerDue(hr) {
		// Room for its trailing probe (and control) in the same
		// transaction. The error budget is not held back for it: a
		// batch that ends with acceptances leaves room.
		trail = 1 + boolInt(hr.vague)
		if p.inline {
			// The canary, and a control where one follows it (the
			// canary's, or the flush's: flushControls).
			trail = 1 + boolInt(hr.flushControlDue())
		}
		txCost += trail
	}
	if newGroup && p.fronts && p.e.trailerDue(hr) {
		// Its random addresses at the front of the flush: RCPTs of the
		// flush and its transaction that may be refused: a pair, or
		// one, for the addresses asked at the host before, and as many
		// for the others (hostRun.heldFronts). A catch-all probe going
		// alone just before them is the pair's first (positional.go):
		// one domain's at most, the last probe of the batch's
		// (engine.serve's lead), whose transaction the batch shares; the
		// others go in transactions of their own before it, and their
		// domains' fronts are the whole pair.
		led := first && g.first.tick == 0 && hr.pairDue() && !p.led
		fronts := 1 + boolInt(hr.pairDue()) - boolInt(led)
		cost += fronts
		txCost += fronts
		p.led = p.led || led
	}
	// The flush and the trailing flush after it fit the server's burst
	// together: the trailing probes go at once, with no wait for the pace
	// between them and the batch (see pacer.take and answer.waits), so
	// the acceptances need not be asked again.
	paced := p.used + cost + p.trail + trail
	// Where a trailing probe may follow and the server's pace binds
	// (spare), the batch leaves it one refusal of the error budget: a
	// probe is asked only after an acceptance, which is no refusal, so a
	// batch within the budget less one leaves room for every probe it
	// needs on the same connection, and none goes on a new one with its
	// acceptances asked again (RCPTs the pace counts). Where the pace does
	// not bind, round trips are the cost: the batch fills the budget.
	errRoom := p.room
	if p.spare && p.trail+trail > 0 {
		errRoom--
	}
	over := p.used+cost > errRoom
	if p.inline {
		// The canaries (and controls) go in the flush: each may be
		// refused, and all of them count in the flush's room.
		over = paced > p.room
	}
	if len(p.picked) > 0 && (over || p.tx+txCost > p.txCap || paced > p.burst) {
		return false
	}
	if first {
		p.probed = append(p.probed, hr)
	}
	if newRun {
		p.runs = append(p.runs, hr)
	}
	if newGroup {
		p.groups = append(p.groups, g)
	}
	p.used, p.tx, p.trail = p.used+cost, p.tx+txCost, p.trail+trail
	p.picked = append(p.picked, i)
	return true
}

// addAll takes the jobs at places g of jobs when all of them fit, and
// marks them taken.
func (p *batchPlan) addAll(jobs []*job, g []int, taken []bool) bool {
	t := *p
	t.picked, t.probed, t.runs, t.groups = slices.Clip(t.picked), slices.Clip(t.probed), slices.Clip(t.runs), slices.Clip(t.groups)
	for _, i := range g {
		if len(t.picked) >= batchSize || !t.add(jobs, i) {
			return false
		}
	}
	*p = t
	for _, i := range g {
		taken[i] = true
	}
	return true
}

// addSome takes the jobs at places g of jobs, in order, as long as they
// fit, and marks them taken.
func (p *batchPlan) addSome(jobs []*job, g []int, taken []bool) {
	for _, i := range g {
		if len(p.picked) >= batchSize || !p.add(jobs, i) {
			return
		}
		taken[i] = true
	}
}

// fit counts how many of the jobs at places g of jobs, in order, fit in
// an empty plan like p.
func (p batchPlan) fit(jobs []*job, g []int) int {
	p.picked, p.probed, p.runs, p.groups = nil, nil, nil, nil
	p.used, p.tx, p.trail, p.led = 0, 0, 0, false
	n := 0
	for _, i := range g {
		if len(p.picked) >= batchSize || !p.add(jobs, i) {
			break
		}
		n++
	}
	return n
}

// take removes the next batch from q: the jobs one flush of room carries
// (at least one, at most batchSize), counting the catch-all probe that
// goes with the first job of a domain, and the probes to ask again;
// r says how much. The
// jobs' Timeout counts from since, the session's attempt. e.mu is held.
//
// The jobs queued within groupScan places go by domain (and host), in
// groupOrder's order, each domain's in chunks as large as a flush on a
// new connection carries: one front and one canary (or trailing probe)
// then answer for them all, where a batch of as many domains would need
// them for each, and each is an RCPT the server's rate counts.
func (e *engine) take(q *hostQueue, r flushRoom, since time.Time) ([]*job, []*hostRun) {
	if len(q.jobs) == 0 && len(q.probes) == 0 {
		return nil, nil
	}
	p := &batchPlan{e: e, room: r.rcpts, spare: r.spare, inline: r.inline, fronts: r.fronts, burst: r.burst, txCap: orDefault(e.v.MaxRcpts, defaultMaxRcpts) - 1} // the batch rides in a transaction with a probe
	scan := min(len(q.jobs), groupScan)
	taken := make([]bool, scan)
	// Each domain's jobs go in chunks as large as a flush on a new
	// connection carries: a chunk waits for a flush it fits whole, as
	// every flush of a domain costs its front and canary (canary.go).
	// Only where no chunk fits does the first go in part.
	full := *p
	full.room = max(r.rcpts, r.fresh)
	var chunks [][]int
	gs, due := groupOrder(q, q.jobs[:scan], r.spare, since)
	if r.oneDomain {
		gs = gs[:min(1, len(gs))]
	}
	var urgent []bool // the first chunk of a group that waited long enough
	for n, g := range gs {
		k := max(1, full.fit(q.jobs, g))
		for c := 0; len(g) > 0; c++ {
			k := min(k, len(g))
			chunks, g = append(chunks, g[:k]), g[k:]
			urgent = append(urgent, c == 0 && n < due)
		}
	}
	for c, g := range chunks {
		if !p.addAll(q.jobs, g, taken) && urgent[c] {
			// It waited long enough (groupOrder): what fits goes now.
			p.addSome(q.jobs, g, taken)
		}
		if len(p.picked) >= batchSize {
			break
		}
	}
	if len(p.picked) == 0 && len(chunks) > 0 {
		p.addSome(q.jobs, chunks[0], taken)
	}
	batch := make([]*job, len(p.picked))
	fresh := q.fresh
	for n, i := range p.picked {
		batch[n] = q.jobs[i]
		if i < q.fresh {
			fresh--
		}
	}
	// The jobs left in the scanned places move up behind the taken ones,
	// in order: the work is the scan's, not the queue's length.
	w := scan
	for i := scan - 1; i >= 0; i-- {
		if !taken[i] {
			w--
			q.jobs[w] = q.jobs[i]
		}
	}
	clear(q.jobs[:w])
	q.jobs, q.fresh = q.jobs[w:], max(0, fresh)
	probes := q.probes
	q.probes = nil
	for _, hr := range probes {
		// Taken: if this session does not ask (another is asking now),
		// the acceptances waiting schedule a probe again.
		hr.trailing = false
	}
	for _, j := range batch {
		j.at = atFlight
		e.setDeadline(j, since)
	}
	q.flushed(p.runs, since)
	return batch, probes
}

// A flushRoom is what the next flush may carry: rcpts (Session.Room's
// now), whether to leave trailing probes a refusal (spare, see
// batchPlan.add), and how many RCPTs of the server's bucket the batch and
// its trailing probes may take at once (burst: the bucket's, less what
// other sessions hold there).
type flushRoom struct {
	rcpts  int
	fresh  int // rcpts on a new connection (Session.Room's fresh)
	spare  bool
	burst  int
	inline bool // the canaries go in the batch's own flush (canary.go)
	fronts bool // so does a random address of each domain at its front
	// oneDomain: the server takes one recipient domain per transaction
	// (smtpprobe.Quirks.OneDomainPerTx): the batch is of one domain, so
	// that its front, canary and control share its transaction.
	oneDomain bool
}

// refusalKinds is how a server refused recipients so far.
type refusalKinds uint8

const (
	refusedNaming  refusalKinds = 1 << iota // naming the reason (5.1.1)
	refusedVaguely                          // naming none
)

// trailsFirst reports whether a new domain's first catch-all question
// waits for the trailing probe after its first batch instead of a probe
// of its own in the batch's flush: acceptances need that probe anyway,
// and it answers the first question too (askTrailing); refusals that give
// their reason need no answer, and others ask it after the batch
// (askAfter). Each probe saved is an RCPT the server's rate counts. Only
// on a server seen to refuse naming the reason and never without one: a
// vague refusal of a trailing probe proves nothing without a control
// after it, which a new domain does not have yet. e.mu is held.
func (e *engine) trailsFirst(hr *hostRun) bool {
	if !e.trailerDue(hr) {
		return false
	}
	// Not on a server not yet seen to refuse, even where the canary rides
	// in the batch's flush: the probe alone at the front of the domain's
	// first flush is what shows a server that accepts the first
	// recipients of a flush blindly (TestAcceptFirstOfFlush).
	return e.refusals[hr.key] == refusedNaming
}

// distinctRuns counts the hostRuns of a batch.
func distinctRuns(batch []*job) int {
	var runs []*hostRun
	for _, j := range batch {
		if !slices.Contains(runs, j.run) {
			runs = append(runs, j.run)
		}
	}
	return len(runs)
}

// trailerRcpts counts the RCPTs of the trailing probes (and controls) the
// batch's domains may need after it. e.mu is held.
func (e *engine) trailerRcpts(batch []*job) int {
	var runs []*hostRun
	n := 0
	for _, j := range batch {
		if hr := j.run; !slices.Contains(runs, hr) {
			runs = append(runs, hr)
			if e.trailerDue(hr) {
				n += 1 + boolInt(hr.vague)
			}
		}
	}
	return n
}

// trailerDue reports whether acceptances of hr may need a trailing probe.
// e.mu is held.
func (e *engine) trailerDue(hr *hostRun) bool {
	return !e.v.SkipCatchAll && !e.v.eg.noCanary && !hr.consumer() && hr.catchAllStatus() != catchall.Yes
}

// maxRebrackets bounds how often an acceptance is asked again before a
// trailing probe: twice, for a probe that another session's or a
// reconnection's timing kept from its transaction once.
const maxRebrackets = 2

// trailsSize counts the RCPTs of ts.
func trailsSize(ts []trail) int {
	n := 0
	for _, t := range ts {
		n += t.size()
	}
	return n
}
