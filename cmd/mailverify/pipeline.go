package main

import (
	"context"
	"errors"
	"iter"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/mailverify/mailverify/internal/input"
	"github.com/mailverify/mailverify/syntax"
	"github.com/mailverify/mailverify/verify"
)

// A pipeline feeds the inputs to the Verifier as they are read and writes
// each result as soon as it may: at once in completion order, or in input
// order, where a finished result waits only behind unfinished earlier
// ones and reading stays at most window inputs ahead of writing, so that
// memory stays bounded.
type pipeline struct {
	w      resultWriter
	bar    *progress
	order  bool            // write in input order
	window int             // how far reading may run ahead of writing
	dedupe bool            // verify each address once; duplicates get its result
	skip   map[string]bool // --resume: inputs the output file holds

	mu      sync.Mutex
	cond    *sync.Cond
	stopped bool
	read    int            // positions handed out
	next    int            // the next position to write, in input order
	sent    int            // inputs given to the Verifier
	pos     map[int]int    // Verifier index -> position
	raw     map[int]string // position -> the input as given
	ready   map[int]verify.Result
	first   map[string]int // --dedupe: address -> Verifier index of its first
	dups    map[int][]int  // Verifier index -> positions of its duplicates
	results map[string]verify.Result
	skipped int
	err     error // the first write error
}

func newPipeline(w resultWriter, bar *progress, order bool, window int, dedupe bool, skip map[string]bool) *pipeline {
	pl := &pipeline{w: w, bar: bar, order: order, window: window, dedupe: dedupe, skip: skip,
		pos: map[int]int{}, raw: map[int]string{}, ready: map[int]verify.Result{},
		first: map[string]int{}, dups: map[int][]int{}, results: map[string]verify.Result{}}
	pl.cond = sync.NewCond(&pl.mu)
	return pl
}

// run verifies the entries with v and writes the results. It returns when
// every input read has a result written, or, once ctx ends, when the work
// in flight has ended; results cut short by the interruption are not
// written, so that --resume verifies them again.
func (pl *pipeline) run(ctx context.Context, v *verify.Verifier, in iter.Seq[input.Entry]) error {
	stop := context.AfterFunc(ctx, func() {
		pl.mu.Lock()
		pl.stopped = true
		pl.cond.Broadcast()
		pl.mu.Unlock()
	})
	defer stop()
	for i, r := range v.VerifySeq(ctx, pl.feed(in)) {
		pl.deliver(i, r)
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	// What waits behind an unfinished input (only after an interruption)
	// goes out too, in input order.
	for _, p := range slices.Sorted(maps.Keys(pl.ready)) {
		pl.write(pl.ready[p])
	}
	pl.bar.finish()
	return pl.err
}

// feed is the sequence the Verifier reads: the entries not skipped, each
// given a position; duplicates (with --dedupe) are held back for the
// result of their first.
func (pl *pipeline) feed(in iter.Seq[input.Entry]) iter.Seq[string] {
	return func(yield func(string) bool) {
		for e := range in {
			if pl.skip[e.Raw] {
				pl.mu.Lock()
				pl.skipped++
				pl.mu.Unlock()
				continue
			}
			pl.mu.Lock()
			for pl.order && pl.read-pl.next >= pl.window && !pl.stopped {
				pl.cond.Wait()
			}
			if pl.stopped {
				pl.mu.Unlock()
				return
			}
			p := pl.read
			pl.read++
			pl.raw[p] = e.Raw
			if pl.dedupe {
				key := dedupeKey(e.Addr)
				if r, ok := pl.results[key]; ok {
					pl.place(p, r)
					pl.mu.Unlock()
					continue
				}
				if i, ok := pl.first[key]; ok {
					pl.dups[i] = append(pl.dups[i], p)
					pl.mu.Unlock()
					continue
				}
				pl.first[key] = pl.sent
			}
			pl.pos[pl.sent] = p
			pl.sent++
			pl.mu.Unlock()
			if !yield(e.Addr) {
				return
			}
		}
	}
}

// dedupeKey is the normalized address, case-insensitively.
func dedupeKey(a string) string {
	if addr, err := syntax.Parse(a); err == nil {
		a = addr.String()
	}
	return strings.ToLower(a)
}

// deliver takes the Verifier's result for index i.
func (pl *pipeline) deliver(i int, r verify.Result) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	defer pl.cond.Broadcast()
	p := pl.pos[i]
	delete(pl.pos, i)
	dups := pl.dups[i]
	delete(pl.dups, i)
	if errors.Is(r.Err, context.Canceled) {
		// Cut short by the interruption: leave it to --resume.
		delete(pl.raw, p)
		for _, q := range dups {
			delete(pl.raw, q)
		}
		return
	}
	if pl.dedupe {
		pl.results[dedupeKey(r.Input)] = r
	}
	pl.place(p, r)
	for _, q := range dups {
		pl.place(q, r)
	}
}

// place writes the result for position p now, or when its turn comes in
// input order. pl.mu is held.
func (pl *pipeline) place(p int, r verify.Result) {
	r.Input = pl.raw[p]
	delete(pl.raw, p)
	if !pl.order {
		pl.write(r)
		return
	}
	pl.ready[p] = r
	for {
		r, ok := pl.ready[pl.next]
		if !ok {
			if _, pending := pl.raw[pl.next]; pending || pl.next >= pl.read {
				return
			}
			pl.next++ // dropped after an interruption
			continue
		}
		delete(pl.ready, pl.next)
		pl.next++
		pl.write(r)
	}
}

// write writes one result. pl.mu is held.
func (pl *pipeline) write(r verify.Result) {
	if pl.err != nil {
		return
	}
	if err := pl.w.write(r); err != nil {
		pl.err = err
		return
	}
	pl.bar.add(r)
}
