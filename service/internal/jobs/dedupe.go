package jobs

import (
	"strings"

	"github.com/mailverify/mailverify/internal/input"
)

// A Dedupe tells which entries of a job repeat the address of an earlier
// one (compared without regard to case) and counts the repeats. Package
// api uses one for the dedupe option of POST /v1/jobs and POST /v1/lists;
// given in a Spec, its count is stored with the job (Job.Duplicates).
// It holds every different address of the job, lower-cased.
type Dedupe struct {
	seen  map[string]int
	count int
}

// See returns the entry that first had addr, and whether addr repeats
// it; a repeat is counted. next is the number the entry gets when it is
// the first: the caller's count of the entries it kept.
func (d *Dedupe) See(addr string, next int) (first int, repeat bool) {
	if d.seen == nil {
		d.seen = map[string]int{}
	}
	key := strings.ToLower(addr)
	if i, ok := d.seen[key]; ok {
		d.count++
		return i, true
	}
	d.seen[key] = next
	return next, false
}

// Count returns the repeats seen so far; zero for a nil Dedupe.
func (d *Dedupe) Count() int {
	if d == nil {
		return 0
	}
	return d.count
}

// Filter yields the entries of in whose address no earlier entry has.
func (d *Dedupe) Filter(in Inputs) Inputs {
	return func(yield func(e input.Entry) bool) error {
		n := 0
		return in(func(e input.Entry) bool {
			if _, repeat := d.See(e.Addr, n); repeat {
				return true
			}
			n++
			return yield(e)
		})
	}
}
