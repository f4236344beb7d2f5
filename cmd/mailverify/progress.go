package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mailverify/mailverify/verify"
)

// progress draws one status line on a terminal: done/total, rate, ETA and
// counts per status, redrawn at most four times a second.
type progress struct {
	w      io.Writer
	total  int
	done   int
	counts map[verify.Status]int
	start  time.Time
	last   time.Time
}

func newProgress(w io.Writer, total int) *progress {
	return &progress{w: w, total: total, counts: map[verify.Status]int{}, start: time.Now()}
}

func (p *progress) add(r verify.Result) {
	if p == nil {
		return
	}
	p.done++
	p.counts[r.Status]++
	if time.Since(p.last) >= 250*time.Millisecond || p.done == p.total {
		p.draw()
	}
}

func (p *progress) draw() {
	p.last = time.Now()
	el := time.Since(p.start)
	rate := float64(p.done) / max(el.Seconds(), 1e-3)
	eta := "-"
	if rate > 0 && p.done < p.total {
		eta = (time.Duration(float64(p.total-p.done)/rate) * time.Second / time.Second).Round(time.Second).String()
	}
	const width = 24
	filled := 0
	if p.total > 0 {
		filled = width * p.done / p.total
	}
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d %.1f/s ETA %s  deliverable %d undeliverable %d risky %d unknown %d ",
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), p.done, p.total, rate, eta,
		p.counts[verify.Deliverable], p.counts[verify.Undeliverable], p.counts[verify.Risky], p.counts[verify.Unknown])
}

func (p *progress) finish() {
	if p == nil {
		return
	}
	p.draw()
	fmt.Fprintln(p.w)
}
