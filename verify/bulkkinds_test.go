package verify

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// rcptKind names what one RCPT was, as the server can tell from what it
// saw: the world's addresses (worldAddr) against the engine's random ones,
// postmaster@, what it answered each address before, and the RCPT's place
// among its domain's in its flush (a run of RCPTs on one connection with
// no gap of a round trip, as domainFlushes splits them).
const (
	kindFirst     = "first"      // a list address, asked the first time
	kindGrey      = "grey-retry" // asked again after the server deferred it
	kindAccAgain  = "acc-again"  // asked again after an acceptance (a trailing probe)
	kindRefAgain  = "ref-again"  // asked again after a refusal (a sandwich)
	kindCtlAcc    = "ctl-acc"    // an accepted address asked again after its domain's last random address of the flush (a control)
	kindCtlPM     = "ctl-pm"     // postmaster@ (a control)
	kindPair      = "front-pair" // a random address in a run of two or more before its domain's list addresses in the flush
	kindFront     = "front"      // a single random address before them
	kindCanary    = "canary"     // a random address after one of them
	kindAlone     = "alone"      // a random address in a flush carrying no list address of its domain (a catch-all probe alone, a pair's first)
	kindRandAgain = "rand-again" // (also counted above) a random address asked before
)

var rcptKindOrder = []string{kindFirst, kindGrey, kindAccAgain, kindRefAgain, kindCtlAcc, kindCtlPM, kindPair, kindFront, kindCanary, kindAlone, kindRandAgain}

// Why a domain's flush that carried list addresses was not its first.
const (
	whySplitFar  = "split-far"  // it asked list addresses the first time, read more than the window apart in the list from the domain's earlier ones
	whySplitNear = "split-near" // ... read within the window
	whyGrey      = "grey"       // it asked again addresses deferred, and none the first time
	whyTrail     = "trail"      // acceptances asked again, and none of the above
	whySandwich  = "sandwich"   // refusals asked again, only
)

var flushWhyOrder = []string{whySplitFar, whySplitNear, whyGrey, whyTrail, whySandwich}

// rcptBreakdown classifies every RCPT the server saw (rcptKind) and each
// of its domains' flushes that carried list addresses after the first
// (why). index is each list address's place in the shuffled list, window
// the engine's. With dump set, it writes every flush there.
func (b *bulkServer) rcptBreakdown(gap time.Duration, index map[string]int, window int, dump io.Writer) (kinds, why map[string]int) {
	b.mu.Lock()
	log := slices.Clone(b.log)
	b.mu.Unlock()
	// What the server answered each RCPT's address before it (log order
	// is arrival order: the server appends under its lock).
	prev := make([]int, len(log))
	last := map[string]int{}
	for i, r := range log {
		prev[i] = last[r.addr]
		last[r.addr] = r.code
	}
	order := make([]int, len(log))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int {
		if log[x].conn != log[y].conn {
			return log[x].conn - log[y].conn
		}
		return log[x].at.Compare(log[y].at)
	})
	var flushes [][]int
	for k, i := range order {
		if k == 0 || log[i].conn != log[order[k-1]].conn || log[i].at.Sub(log[order[k-1]].at) >= gap {
			flushes = append(flushes, nil)
		}
		flushes[len(flushes)-1] = append(flushes[len(flushes)-1], i)
	}
	// Each domain's flushes carrying list addresses, by when they began.
	slices.SortStableFunc(flushes, func(x, y []int) int { return log[x[0]].at.Compare(log[y[0]].at) })
	kinds, why = map[string]int{}, map[string]int{}
	firstAsked := map[string][]int{} // domain -> list places asked the first time so far
	carried := map[string]int{}      // domain -> flushes that carried its list addresses
	for _, f := range flushes {
		byDomain := map[string][]int{}
		var domains []string
		for _, i := range f {
			_, d, _ := cutAt(log[i].addr)
			if byDomain[d] == nil {
				domains = append(domains, d)
			}
			byDomain[d] = append(byDomain[d], i)
		}
		if dump != nil {
			fmt.Fprintf(dump, "conn %d at %.3fs:", log[f[0]].conn, log[f[0]].at.Sub(log[order[0]].at).Seconds())
		}
		for _, d := range domains {
			rs := byDomain[d]
			listed := slices.IndexFunc(rs, func(i int) bool { return worldAddr.MatchString(log[i].addr) })
			lastRandom := -1
			for k, i := range rs {
				if !worldAddr.MatchString(log[i].addr) && !strings.HasPrefix(log[i].addr, "postmaster@") {
					lastRandom = k
				}
			}
			seen := map[string]bool{}
			for k, i := range rs {
				a := log[i].addr
				var kind string
				switch {
				case strings.HasPrefix(a, "postmaster@"):
					kind = kindCtlPM
				case worldAddr.MatchString(a):
					switch prev[i] {
					case 0:
						kind = kindFirst
					case 450:
						kind = kindGrey
					case 250:
						kind = kindAccAgain
						if lastRandom >= 0 && k > lastRandom {
							kind = kindCtlAcc
						}
					default:
						kind = kindRefAgain
					}
				default:
					if prev[i] != 0 {
						kinds[kindRandAgain]++
					}
					switch {
					case listed < 0:
						kind = kindAlone
					case k > listed:
						kind = kindCanary
					case listed >= 2:
						kind = kindPair
					default:
						kind = kindFront
					}
				}
				kinds[kind]++
				seen[kind] = true
				if dump != nil {
					fmt.Fprintf(dump, " %s=%s/%d", a, kind, log[i].code)
				}
			}
			if listed < 0 {
				continue
			}
			carried[d]++
			var places []int
			for _, i := range rs {
				if p, ok := index[log[i].addr]; ok && prev[i] == 0 {
					places = append(places, p)
				}
			}
			if carried[d] > 1 {
				var w string
				switch {
				case seen[kindFirst]:
					w = whySplitNear
					if far(places, firstAsked[d], window) {
						w = whySplitFar
					}
				case seen[kindGrey]:
					w = whyGrey
				case seen[kindAccAgain]:
					w = whyTrail
				default:
					w = whySandwich
				}
				why[w]++
			}
			firstAsked[d] = append(firstAsked[d], places...)
		}
		if dump != nil {
			fmt.Fprintln(dump)
		}
	}
	return kinds, why
}

// far reports whether every place of now is more than window from every
// place of before.
func far(now, before []int, window int) bool {
	for _, p := range now {
		for _, q := range before {
			if p-q <= window && q-p <= window {
				return false
			}
		}
	}
	return true
}

// formatBreakdown writes kinds and why in their orders.
func formatBreakdown(kinds, why map[string]int) string {
	var ks, ws []string
	for _, k := range rcptKindOrder {
		ks = append(ks, fmt.Sprintf("%s %d", k, kinds[k]))
	}
	for _, k := range flushWhyOrder {
		ws = append(ws, fmt.Sprintf("%s %d", k, why[k]))
	}
	return strings.Join(ks, ", ") + "; flushes after a domain's first: " + strings.Join(ws, ", ")
}

// index returns each list address's place in the shuffled list.
func (w *bulkWorld) index() map[string]int {
	m := make(map[string]int, len(w.addrs))
	for i, a := range w.addrs {
		m[a] = i
	}
	return m
}

// bulkDump is where BULKDUMP (a file name) asks the busiest server's
// flushes to be written, or nil.
func bulkDump() io.Writer {
	name := os.Getenv("BULKDUMP")
	if name == "" {
		return nil
	}
	f, err := os.Create(name)
	if err != nil {
		return nil
	}
	return f
}

// flushRcpts is the most RCPTs a flush on a new connection carries:
// smtpprobe's defaults, PipelineBatch 10 and MaxErrors 8 (every RCPT of
// a flush may be refused, and the error budget takes MaxErrors and the
// one after).
const flushRcpts = 9

// ruleFloor is the fewest RCPTs (and flushes carrying list addresses)
// the evidence rules allow the server, had the engine every address of
// each domain at once: each domain's flushes of flushRcpts, the first
// with the front pair and a canary (which answers the catch-all
// question), the others with one front and a canary; a greylisting
// domain's twice (the first contact, deferred, and its retry, with the
// same random addresses), each of them with a pair (a pair asked again
// decides only for the addresses deferred with it, hostRun.pairedFor).
// Controls are not counted: the world refuses postmaster@, and the
// engine stops asking it there.
func (w *bulkWorld) ruleFloor(b *bulkServer) (rcpts, flushes int) {
	size := map[string]int{}
	for _, a := range w.addrs {
		_, d, _ := cutAt(a)
		if w.res.IP[w.res.MX[d][0].Host][0] == b.ip {
			size[d]++
		}
	}
	for d, n := range size {
		f := 1 + (max(0, n-(flushRcpts-3))+flushRcpts-3)/(flushRcpts-2)
		r := n + 3 + 2*(f-1)
		if w.greying[d] {
			f = (n + flushRcpts - 4) / (flushRcpts - 3)
			f, r = 2*f, 2*(n+3*f)
		}
		flushes += f
		rcpts += r
	}
	return rcpts, flushes
}

// floorBound is bound with the busiest server's RCPTs floor (its
// ruleFloor) instead of its needed; the other servers' stay needed.
func (w *bulkWorld) floorBound(rate float64, conc int, busiest *bulkServer, floor int) time.Duration {
	return w.boundOf(rate, conc, func(b *bulkServer) int {
		if b == busiest {
			return floor
		}
		return b.needed()
	})
}
