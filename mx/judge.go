package mx

import (
	"math/rand/v2"
	"slices"
)

// shuffled returns r with hosts of equal preference in random order, as
// RFC 5321 section 5.1 asks of clients to spread the load.
func shuffled(r Result) Result {
	if len(r.Hosts) < 2 {
		return r
	}
	hosts := slices.Clone(r.Hosts)
	for i := 0; i < len(hosts); {
		j := i + 1
		for j < len(hosts) && hosts[j].Pref == hosts[i].Pref {
			j++
		}
		group := hosts[i:j]
		// Usable hosts stay ahead of unusable ones within a preference.
		n := 0
		for n < len(group) && len(group[n].Addrs) > 0 {
			n++
		}
		rand.Shuffle(n, func(a, b int) { group[a], group[b] = group[b], group[a] })
		i = j
	}
	r.Hosts = hosts
	return r
}

func usableRank(h Host) int {
	if len(h.Addrs) > 0 {
		return 0
	}
	return 1
}

// judge sets the status of a result with hosts: Found if any host is
// usable; otherwise Temporary if any failed for a reason other than
// not-found, Unroutable if any resolved only to refused addresses, and
// NoMailServer if none exists.
func judge(r Result) Result {
	var tempErr error
	refused := false
	for _, h := range r.Hosts {
		switch {
		case len(h.Addrs) > 0:
			r.Status = Found
			return r
		case len(h.Refused) > 0:
			refused = true
		case h.Err != nil:
			if nf, _ := isNotFound(h.Err); !nf && tempErr == nil {
				tempErr = h.Err
			}
		}
	}
	switch {
	case tempErr != nil:
		return temporary(r, tempErr)
	case refused:
		r.Status = Unroutable
	default:
		r.Status = NoMailServer
	}
	return r
}

func temporary(r Result, err error) Result {
	r.Status, r.Err, r.TTL = Temporary, err, 0
	return r
}
