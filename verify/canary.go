package verify

import (
	"math/rand/v2"
	"slices"

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
	hr    *hostRun
	first bool   // it answers the domain's first catch-all question too
	retry bool   // the batch asks again addresses of the domain the host deferred
	ctl   string // the control after it, or ""
	addr  string // the random address
	res   smtpprobe.Result
	cres  smtpprobe.Result // the control's
	st    catchall.Status
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
		cs = append(cs, canary{hr: hr, first: !hr.asked && !hr.asking, retry: retry, ctl: hr.control()})
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

// canaryWires draws the canaries' random addresses and returns them, with
// their controls, in the order they go after the batch.
func (e *engine) canaryWires(cs []canary) []string {
	qs := canaryQuestions(cs)
	addrs := e.v.detector.ProbeAddrs(qs)
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

// question is hr's catch-all question, with one of the domain's local
// parts, at random, for its random address's shape.
func (hr *hostRun) question() catchall.Question {
	q := catchall.Question{Domain: hr.d.name, Host: hr.host.Name}
	if ls := hr.d.locals.Load(); ls != nil && len(*ls) > 0 {
		q.Like = (*ls)[rand.IntN(len(*ls))]
	}
	return q
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
		qs[i] = c.hr.question()
		qs[i].Retry = c.retry
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
