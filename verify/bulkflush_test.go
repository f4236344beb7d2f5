package verify

import (
	"slices"
	"time"
)

// rcptSeen is one RCPT as a bulkServer saw it.
type rcptSeen struct {
	conn int
	at   time.Time
	addr string
	code int // the server's reply
}

// domainFlushes counts, as the server saw them, the (flush, domain) pairs
// of its RCPTs: a flush is a run of RCPTs on one connection with no gap
// of gap or more between two (the round trip, or a wait for the pace,
// separates flushes; the commands of one arrive together). Each such pair
// costs the engine a front and a canary of the domain (canary.go). It
// returns the pairs, and of them those that carried an address of the
// list, with how many list addresses they carried in all.
func (b *bulkServer) domainFlushes(gap time.Duration) (pairs, carrying, listed int) {
	b.mu.Lock()
	log := slices.Clone(b.log)
	b.mu.Unlock()
	slices.SortStableFunc(log, func(x, y rcptSeen) int {
		if x.conn != y.conn {
			return x.conn - y.conn
		}
		return x.at.Compare(y.at)
	})
	type key struct {
		flush  int
		domain string
	}
	carries := map[key]bool{} // whether the pair carried a list address
	flush := 0
	for i, r := range log {
		if i > 0 && (r.conn != log[i-1].conn || r.at.Sub(log[i-1].at) >= gap) {
			flush++
		}
		_, domain, _ := cutAt(r.addr)
		k := key{flush, domain}
		was, ok := carries[k]
		if !ok {
			pairs++
		}
		if !worldAddr.MatchString(r.addr) {
			carries[k] = was
			continue
		}
		if !was {
			carrying++
		}
		carries[k] = true
		listed++
	}
	return pairs, carrying, listed
}
