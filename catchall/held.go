package catchall

import (
	"slices"
	"time"

	"github.com/mailverify/mailverify/smtpprobe"
)

// probeAddress returns a random address to ask q with: drawn afresh in
// the shape of q.Like, so that no two questions, nor two probes of one
// question, share one a server could learn; except, for a probe that
// goes with addresses the server deferred (q.Retry), the address of the
// question it deferred first, if any: a greylisting server (keyed on the
// sender, recipient and client triplet, and on when it first saw them)
// lets it through with them, where a new one would be deferred anew (see
// Question.Prefer for which). d.mu is held.
func (d *Detector) probeAddress(q Question) string {
	k := key{q.Domain, q.Host}
	if hs := d.probes[k]; q.Retry && len(hs) > 0 {
		i := max(0, slices.IndexFunc(hs, func(h held) bool { return h.addr == q.Prefer }))
		h := hs[i]
		if len(hs) == 1 {
			delete(d.probes, k)
		} else {
			d.probes[k] = slices.Delete(hs, i, i+1)
		}
		if d.lent == nil || len(d.lent) >= maxEntries {
			d.lent = make(map[string]time.Time)
		}
		d.lent[h.addr] = h.since
		return h.addr
	}
	if q.Like == "" {
		return RandomLocalPart() + "@" + q.Domain
	}
	return RandomLocalPart(q.Like) + "@" + q.Domain
}

// held is a random address the server deferred, since when.
type held struct {
	addr  string
	since time.Time
}

// maxHeld bounds the deferred addresses kept per question.
const maxHeld = 32

// settle keeps the address of r, a probe of k answered st, for a later
// probe of k if the server deferred it (a 4xx; or no answer, to one
// deferred before), with when it was first deferred (a greylisting
// server counts from then). An address answered for good is not asked
// again, nor one sent afresh that no reply came to: the server may not
// have seen it, and where it did, when is not known (a caller that
// learns from what it asks again needs to know, Question.Prefer). d.mu
// is held.
func (d *Detector) settle(k key, r *smtpprobe.Result, st Status) {
	since, lent := d.lent[r.Address]
	delete(d.lent, r.Address)
	if st != Unknown || r.Address == "" || r.Reply != nil && r.Reply.Code/100 != 4 || r.Reply == nil && !lent {
		return // answered, not sent, refused for good, or lost: a new one next time
	}
	if !lent {
		since = d.clock()
	}
	if d.probes == nil || len(d.probes) >= maxEntries {
		d.probes = make(map[key][]held) // only greylisting continuity is lost
	}
	hs := d.probes[k]
	if slices.ContainsFunc(hs, func(x held) bool { return x.addr == r.Address }) {
		return
	}
	i, _ := slices.BinarySearchFunc(hs, since, func(x held, t time.Time) int { return x.since.Compare(t) })
	hs = slices.Insert(hs, i, held{r.Address, since})
	if len(hs) > maxHeld {
		hs = hs[:maxHeld] // the youngest goes
	}
	d.probes[k] = hs
}
