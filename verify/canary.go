package verify

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/mailverify/mailverify/catchall"
	"github.com/mailverify/mailverify/smtpprobe"
)

// A canary is one domain's random address at the end of a batch's own
// flush, on a server that pipelines: the batch's addresses of the domain,
// then (after every domain's) the random address, then the control where
// the host refuses naming no reason. A refusal of it that counts proves
// the acceptances before it in that flush (answer.refuted); an acceptance
// means the host accepts everyone (catch-all, or a soft limit begun).
type canary struct {
	hr     *hostRun
	first  bool     // it answers the domain's first catch-all question too
	retry  bool     // the batch asks again addresses of the domain the host deferred
	prefer string   // the random address to ask again with them (hostRun.askedSince)
	ctl    string   // the control after it, or ""
	addr   string   // the random address
	like   []string // its models: the batch's local parts of the domain
	res    smtpprobe.Result
	cres   smtpprobe.Result // the control's
	st     catchall.Status
}

// inlines reports whether c's batches carry their canaries in their own
// flush: the server pipelines and judges every recipient of a connection
// (one judging only the first few, Exchange Online, is compared across
// connections instead, see answer.refuted).
func inlines(c *conn) bool {
	q := c.s.Quirks()
	return pipelines(c.s) && q.RcptsPerConnection == 0
}

// canaries plans the canaries of batch: one for each of its domains that
// may need one (trailerDue). e.mu is held.
func (e *engine) canaries(batch []*job) []canary {
	var cs []canary
	for _, j := range batch {
		hr := j.run
		if !e.trailerDue(hr) || containsRun(cs, hr) {
			continue
		}
		retry := slices.ContainsFunc(batch, func(j *job) bool { return j.run == hr && j.greyRetried })
		cs = append(cs, canary{hr: hr, first: !hr.asked && !hr.asking, retry: retry, prefer: hr.askedSince(batch), ctl: hr.control(), like: likeOf(batch, hr)})
	}
	return cs
}

func containsRun(cs []canary, hr *hostRun) bool {
	for _, c := range cs {
		if c.hr == hr {
			return true
		}
	}
	return false
}

// canaryWires draws the canaries' random addresses for flush f and
// returns them, with
// their controls, in the order they go after the batch.
func (e *engine) canaryWires(cs []canary, f flush) []string {
	qs := canaryQuestions(cs)
	addrs := e.v.detector.ProbeAddrs(qs)
	e.mu.Lock()
	for i, c := range cs {
		e.noteSent(c.hr, addrs[i], f.sent)
	}
	e.mu.Unlock()
	var wires []string
	for i := range cs {
		cs[i].addr = addrs[i]
		wires = append(wires, addrs[i])
		if cs[i].ctl != "" {
			wires = append(wires, cs[i].ctl)
		}
	}
	return wires
}

// question is hr's catch-all question, with one of like, at random, for
// its random address's shape: the local parts of the addresses it goes
// with (likeOf), or, with none, of the domain's first addresses. A
// server that tells the addresses of a flush by their shape sees the
// random one in the shape of one of them, not of the domain's first.
func (hr *hostRun) question(like ...string) catchall.Question {
	q := catchall.Question{Domain: hr.d.name, Host: hr.host.Name}
	if ls := hr.d.locals.Load(); len(like) == 0 && ls != nil {
		like = *ls
	}
	if len(like) > 0 {
		q.Like = like[rand.IntN(len(like))]
	}
	return q
}

// likeOf returns the local parts of the jobs of js at hr.
func likeOf(js []*job, hr *hostRun) []string {
	var ls []string
	for _, j := range js {
		if j.run == hr {
			ls = append(ls, j.wire[:strings.LastIndexByte(j.wire, '@')])
		}
	}
	return ls
}

func canaryAddrs(cs []canary) []string {
	addrs := make([]string, len(cs))
	for i, c := range cs {
		addrs[i] = c.addr
	}
	return addrs
}

func canaryQuestions(cs []canary) []catchall.Question {
	qs := make([]catchall.Question, len(cs))
	for i, c := range cs {
		qs[i] = c.hr.question(c.like...)
		qs[i].Retry, qs[i].Prefer = c.retry, c.prefer
	}
	return qs
}

// learnCanaries takes the canaries' results (res, in canaryWires' order)
// and tells the Detector what they showed. It runs without e.mu.
func (e *engine) learnCanaries(cs []canary, res []smtpprobe.Result) {
	if len(cs) == 0 {
		return
	}
	pr := make([]smtpprobe.Result, len(cs))
	k := 0
	for i := range cs {
		cs[i].res = res[k]
		pr[i] = res[k]
		k++
		if cs[i].ctl != "" {
			cs[i].cres = res[k]
			k++
		}
	}
	sts := e.v.detector.Learn(canaryQuestions(cs), pr)
	for i := range cs {
		cs[i].st = sts[i]
	}
}

// fileCanaries records the canaries' answers, after the batch's own (the
// control's after the canary's: it may make the canary's refusal count).
// An acceptance the canary did not prove (not answered, or in another
// flush, or a refusal that does not count) still needs a refusal after it,
// and gets a trailing probe as before (askAfter). e.mu is held.
func (e *engine) fileCanaries(f flush, cs []canary) {
	for _, c := range cs {
		c.hr.catchAllAnswer(c.st, &c.res, f)
		if c.first && c.st == catchall.Unknown && c.res.Outcome != smtpprobe.Rejected {
			c.hr.asked = false // not a first question answered: ask it alone later
		}
		if c.ctl != "" {
			if a, ok := f.answerOf(&c.cres, false); ok {
				c.hr.record(a)
			}
		}
	}
}

// A front is one domain's random address at the front of a batch's flush,
// before any of the batch's addresses, where the server pipelines or not.
// A server that accepts the first recipients of a connection, a
// transaction, a flush or a domain's run blindly and judges the rest
// refuses the canary (or trailing probe) after them; only a refusal before
// them shows they were judged (hostRun.fronted). The front is drawn afresh
// each time: the Detector's address is the canary's, and a recipient
// repeated in a transaction may be answered otherwise.
type front struct {
	hr   *hostRun
	addr string
	pair bool // it completes the domain's front pair (positional.go)
	res  smtpprobe.Result
}

// fronts plans the fronts of batch on c: one for each of its domains whose
// acceptances may need proving (trailerDue), except on a server that
// judges only the first recipients of a connection (compared across
// connections instead, see answer.refuted). Not even for a domain whose
// catch-all probe goes alone first in the batch's transaction: where its
// reply does not come, the session sends the batch again, on a new
// connection, without it. Without pipelining, where
// consecutive commands of a transaction are compared whatever their flush
// (answer.refuted), none goes for a domain the host judged earlier in the
// open transaction (sameTx: the batch continues it) and accepted no random
// address of after: a server counting per connection, transaction or
// domain in a transaction was judging already. e.mu is held.
func (e *engine) fronts(c *conn, batch []*job, sameTx bool) []front {
	if c.s.Quirks().RcptsPerConnection > 0 {
		return nil
	}
	open := sameTx && !pipelines(c.s)
	next := answer{conn: c.lastConn, tx: c.lastTx, seq: math.MaxInt} // where the batch would stand
	var fs []front
	for _, j := range batch {
		hr := j.run
		if !e.trailerDue(hr) || slices.ContainsFunc(fs, func(f front) bool { return f.hr == hr }) ||
			open && hr.fronted(next) {
			continue
		}
		fs = append(fs, hr.frontsOf(likeOf(batch, hr), batch)...)
	}
	return fs
}

// frontsOf plans the fronts of batch on c (see fronts) and whether the
// batch goes in a transaction of its own (fresh): where the open one has
// no room for the batch with its fronts and the n RCPTs (canaries, trailing
// probes) that may follow in it. mayFresh is false where catch-all probes
// go alone first, which the batch follows in their transaction. e.mu is
// held.
func (e *engine) frontsOf(c *conn, batch []*job, n int, mayFresh bool) ([]front, bool) {
	room, _ := c.s.TxRoom()
	fs := e.fronts(c, batch, room > 0)
	if !mayFresh || room >= len(fs)+n && !pairInRun(c, fs) {
		return fs, false
	}
	return e.fronts(c, batch, false), true
}

// pairInRun reports whether a pair of fs would follow recipients of its
// domain in c's open transaction: inside a run, it tests places other
// than the run's first (hostRun.decidePairs), so the batch goes in a
// new transaction. e.mu is held.
func pairInRun(c *conn, fs []front) bool {
	return slices.ContainsFunc(fs, func(f front) bool { return f.pair && f.hr.inTx(c) })
}

// frontAddr draws a random address of hr's domain for the front of a
// flush, fresh and in the shape of one of like (the flush's addresses of
// the domain), as the canary's is (hostRun.question).
func frontAddr(hr *hostRun, like []string) string {
	return catchall.RandomLocalPart(hr.question(like...).Like) + "@" + hr.d.name
}

func frontWires(fs []front) []string {
	w := make([]string, len(fs))
	for i, f := range fs {
		w[i] = f.addr
	}
	return w
}

// fileFront records the answer to a front: a refusal, as a random
// address's (it may say the domain is not catch-all, and a canary
// accepted after it a soft limit begun); an acceptance says only that the
// host accepts by place, or everyone, and the acceptances after it stay
// unproven (hostRun.fronted). e.mu is held.
func fileFront(f flush, hr *hostRun, r *smtpprobe.Result) (answer, bool) {
	return fileRandom(f, hr, r, randomMark{held: hr.noteFront(f, r)})
}

// A randomMark says how a random address was asked: again, hr.spell asked
// again (see hostRun.notePlace); held, where a held front (or the pair)
// was first deferred (heldFront), zero for one drawn afresh.
type randomMark struct {
	again bool
	held  askKey
}

// fileRandom files a random address at the front of a flush, asked as m
// says.
func fileRandom(f flush, hr *hostRun, r *smtpprobe.Result, m randomMark) (answer, bool) {
	a, ok := f.answerOf(r, true)
	a.again, a.held = m.again, m.held
	hr.accepts(r)
	switch {
	case !ok:
	case judged(r.Outcome):
		hr.record(a)
	default: // no evidence about the domain: kept apart from hr.answers
		if len(hr.blind) >= maxBlind {
			drop := hr.blind[:len(hr.blind)-maxBlind/2]
			for _, b := range drop {
				hr.blindCut = max(hr.blindCut, b.got)
			}
			hr.blind = append(hr.blind[:0], hr.blind[len(drop):]...)
		}
		hr.blind = append(hr.blind, a)
	}
	return a, ok
}

// maxBlind bounds the accepted fronts a hostRun keeps. One dropped could
// lie between a judged answer and an acceptance; so no judged answer
// read before it (hostRun.blindCut) fronts anything any more.
const maxBlind = 32

// frontSplits reports whether the error budget left on c's connection
// would take a domain's front (or front pair) but not the batch's first
// address after it
// (now is Room's): both may be refused, and a reconnection between them
// leaves the address unfronted, to be asked again. Without pipelining
// Room says 1 whatever is left, and the session reconnects at MaxErrors
// (TxRoom's refusals); there the batch of q's first job needs no front
// where the open transaction fronts its domain already (see fronts).
func (e *engine) frontSplits(c *conn, q *hostQueue, now int) bool {
	if c.s.Quirks().RcptsPerConnection > 0 || e.v.SkipCatchAll || c.s.Connections() == 0 {
		return false
	}
	if pipelines(c.s) {
		need := 2 // the front and the address
		e.mu.Lock()
		if len(q.jobs) > 0 {
			need = q.jobs[0].run.frontCount() + 1
		}
		e.mu.Unlock()
		_, fresh := c.s.Room()
		return now < need && fresh >= need
	}
	rcpts, refusals := c.s.TxRoom()
	_, freshRefusals := c.s.FreshRoom()
	if rcpts == 0 || refusals >= 2 || freshRefusals < 2 {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(q.jobs) > 0 && !q.jobs[0].run.fronted(answer{conn: c.lastConn, tx: c.lastTx, seq: math.MaxInt})
}

// accepts notes r, a random address of the domain, where the host
// accepted it (hostRun.spell). e.mu is held.
func (hr *hostRun) accepts(r *smtpprobe.Result) {
	if r.Outcome == smtpprobe.Accepted && r.Seq > 0 {
		hr.spell = r.Address
	}
}

// fileSpell records the answer to hr.spell, asked again after the front
// of a trailing probe that asks acceptances again. A server that keeps
// its answer per recipient (a front end's cache, as of Postfix's
// verify(8)) and accepted everyone for a spell answers the acceptances of
// the spell from its cache, and may judge a random address drawn afresh:
// its refusal would seem to prove them. The spell's own random address,
// asked again, is accepted from the cache too: accepted, it stands
// between the front and the acceptances after it, and proves nothing
// (hostRun.fronted), so they stay unproven. Refused, the host judges it
// anew, and it is asked no more. e.mu is held.
func (hr *hostRun) fileSpell(f flush, r *smtpprobe.Result) {
	_, _ = fileRandom(f, hr, r, randomMark{again: true})
	if r.Seq > 0 && judged(r.Outcome) {
		hr.spell = ""
	}
}
