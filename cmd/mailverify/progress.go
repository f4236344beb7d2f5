package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mailverify/mailverify/verify"
)

// progress draws one status line on a terminal: done/total, rate, ETA and
// counts per status, redrawn at most ten times a second. With the total
// unknown (input on stdin), it shows what is done and the rate.
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
	if time.Since(p.last) >= 100*time.Millisecond || p.done == p.total {
		p.draw()
	}
}

func (p *progress) draw() {
	p.last = time.Now()
	fmt.Fprint(p.w, "\r"+p.line(time.Since(p.start))+" ")
}

// line is the status line after el of work.
func (p *progress) line(el time.Duration) string {
	rate := float64(p.done) / max(el.Seconds(), 1e-3)
	counts := fmt.Sprintf("deliverable %d undeliverable %d risky %d unknown %d",
		p.counts[verify.Deliverable], p.counts[verify.Undeliverable], p.counts[verify.Risky], p.counts[verify.Unknown])
	if p.total <= 0 {
		return fmt.Sprintf("%d done %.1f/s  %s", p.done, rate, counts)
	}
	eta := "-"
	if rate > 0 && p.done < p.total {
		eta = time.Duration(float64(p.total-p.done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	const width = 24
	filled := min(width, width*p.done/p.total)
	return fmt.Sprintf("[%s%s] %d/%d %.1f/s ETA %s  %s",
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), p.done, p.total, rate, eta, counts)
}

func (p *progress) finish() {
	if p == nil {
		return
	}
	p.draw()
	fmt.Fprintln(p.w)
}
