package verify

import (
	"regexp"
	"slices"
	"strings"

	"github.com/mailverify/mailverify/smtpprobe"
)

// A convLog keeps a worker's session conversation, line by line with the
// recipient each belongs to (smtpprobe.TranscriptLine), for the
// transcripts of the Results the session answers. A session carries many
// domains' recipients; a Result's transcript holds the lines every
// recipient shares (notes, banner, EHLO, STARTTLS, MAIL, RSET) and those
// of its own address and of its domain's catch-all probe (the random
// address is evidence for its verdict): nothing addressed to anyone
// else. It covers the connections on which those lines were, from their
// banner on.
//
// Memory stays bounded on a long-lived session: after each batch is filed
// (compact), only the current connection's opening, its open
// transaction's shared lines and the last catch-all probes' lines stay;
// what was dropped shows as one omittedNote line.
//
// A convLog is used on its worker's goroutine only: the session calls add
// while the worker probes, and the worker files the results.
type convLog struct {
	lines    []smtpprobe.TranscriptLine
	mailFrom string
	// sent are the recipients of RCPT commands since the last compact;
	// probes the catch-all probe addresses the engine sent since then
	// (markProbes) and those whose lines are kept (lower case). A probe
	// has no form of its own to be told by (catchall.RandomLocalPart):
	// the engine knows the addresses it drew.
	sent, probes map[string]bool
	dropped      int // lines not kept for being over maxLogLines
}

const (
	// maxLogLines bounds the lines kept between two batches, whatever
	// a server says.
	maxLogLines = 4000
	// maxProbeLines bounds the catch-all probe lines kept across batches.
	maxProbeLines = 64
	// omittedNote stands for the lines compact dropped.
	omittedNote = "* ... (earlier transactions and other recipients' lines omitted)"
)

func newConvLog(mailFrom string) *convLog {
	return &convLog{mailFrom: mailFrom, sent: map[string]bool{}, probes: map[string]bool{}}
}

// add is the session's smtpprobe.Prober.TranscriptFunc.
func (l *convLog) add(tl smtpprobe.TranscriptLine) {
	if len(l.lines) >= maxLogLines && !tl.Opening {
		l.dropped++
		return
	}
	if tl.Rcpt != "" && strings.HasPrefix(tl.Text, "C: RCPT ") {
		l.sent[strings.ToLower(tl.Rcpt)] = true
	}
	l.lines = append(l.lines, tl)
}

// A filing is what a batch's transcripts are built from: the batch's
// addresses, and the probe addresses among the other recipients.
type filing struct {
	l      *convLog
	wires  map[string]bool // the batch's addresses, lower case
	probes map[string]bool
}

// markProbes notes addrs as random addresses the engine sent: their
// lines go in the transcripts of their domain's results. Any other
// recipient that is not the batch's (a control asked after a trailing
// probe) is someone's address, and not shown to others.
func (l *convLog) markProbes(addrs ...string) {
	for _, a := range addrs {
		l.probes[strings.ToLower(a)] = true
	}
}

// filing starts building the transcripts of a batch with these addresses
// and the probes marked since the last batch.
func (l *convLog) filing(wires []string) *filing {
	f := &filing{l: l, wires: map[string]bool{}, probes: map[string]bool{}}
	for _, w := range wires {
		f.wires[strings.ToLower(w)] = true
	}
	for a := range l.probes {
		if !f.wires[a] {
			f.probes[a] = true
		}
	}
	return f
}

// transcript returns the transcript of the result for wire: the shared
// lines and the lines of wire and of its domain's probes, on the
// connections that carried any of these (the last connection when none
// did: the session failed before asking).
func (f *filing) transcript(wire string) []string {
	lw := strings.ToLower(wire)
	domain := lw[strings.LastIndexByte(lw, '@')+1:]
	mine := func(rcpt string) bool {
		r := strings.ToLower(rcpt)
		return r == lw || f.probes[r] && strings.HasSuffix(r, "@"+domain)
	}
	var conns []int
	for _, tl := range f.l.lines {
		if tl.Rcpt != "" && mine(tl.Rcpt) && !slices.Contains(conns, tl.Conn) {
			conns = append(conns, tl.Conn)
		}
	}
	if len(conns) == 0 && len(f.l.lines) > 0 {
		conns = append(conns, f.l.lines[len(f.l.lines)-1].Conn)
	}
	var out []string
	for _, tl := range f.l.lines {
		if slices.Contains(conns, tl.Conn) && (tl.Rcpt == "" || mine(tl.Rcpt)) {
			out = append(out, f.l.guard(tl.Text, mine))
		}
	}
	if f.l.dropped > 0 {
		out = append(out, "* ... (more lines than a transcript keeps)")
	}
	return out
}

// address matches an address in a transcript line.
var address = regexp.MustCompile(`[^\s<>:"()\[\],;]+@[^\s<>:"()\[\],;]+`)

// guard withholds, as a last resort, any address in a line that is not
// mine nor MAIL FROM's: a server's text may name a recipient without the
// angle brackets smtpprobe files replies by.
func (l *convLog) guard(line string, mine func(string) bool) string {
	if !strings.Contains(line, "@") {
		return line
	}
	return address.ReplaceAllStringFunc(line, func(a string) string {
		if mine(a) || l.mailFrom != "" && strings.EqualFold(a, l.mailFrom) {
			return a
		}
		return "***"
	})
}

// compact drops, once a batch is filed, what later batches' transcripts
// do not need: other connections, the recipients' lines, the shared lines
// of past transactions, and all but the last catch-all probes' lines. The
// batch's addresses are wires.
func (l *convLog) compact(wires []string) {
	f := l.filing(wires)
	clear(l.sent)
	clear(l.probes)
	n := len(l.lines)
	if n == 0 {
		return
	}
	cur := l.lines[n-1].Conn
	txStart := l.transactionStart()
	// The probe lines to keep: the last maxProbeLines of the connection.
	probeLines := 0
	keepProbe := make([]bool, n)
	for i := n - 1; i >= 0 && probeLines < maxProbeLines; i-- {
		tl := l.lines[i]
		if tl.Conn == cur && tl.Rcpt != "" && f.probes[strings.ToLower(tl.Rcpt)] {
			keepProbe[i] = true
			probeLines++
		}
	}
	keep := func(i int) bool {
		tl := l.lines[i]
		return tl.Conn == cur && tl.Text != omittedNote && (tl.Opening || keepProbe[i] || i >= txStart && tl.Rcpt == "")
	}
	omitted := false
	for i, tl := range l.lines {
		omitted = omitted || tl.Conn == cur && !keep(i)
	}
	// One note, after the opening, says that lines are left out from
	// there on.
	var kept []smtpprobe.TranscriptLine
	noted := !omitted
	for i, tl := range l.lines {
		if !keep(i) {
			continue
		}
		if !noted && !tl.Opening {
			kept = append(kept, smtpprobe.TranscriptLine{Text: omittedNote, Conn: cur})
			noted = true
		}
		if keepProbe[i] {
			l.probes[strings.ToLower(tl.Rcpt)] = true
		}
		kept = append(kept, tl)
	}
	if !noted {
		kept = append(kept, smtpprobe.TranscriptLine{Text: omittedNote, Conn: cur})
	}
	l.lines, l.dropped = kept, 0
}

// transactionStart returns the index of the line that opened the last
// connection's current transaction: its last MAIL FROM command, or the
// RSET just before it; len(l.lines) when there is none.
func (l *convLog) transactionStart() int {
	n := len(l.lines)
	cur := l.lines[n-1].Conn
	for i := n - 1; i >= 0 && l.lines[i].Conn == cur; i-- {
		if l.lines[i].Rcpt != "" || !strings.HasPrefix(l.lines[i].Text, "C: MAIL FROM:") {
			continue
		}
		if i > 0 && l.lines[i-1].Text == "C: RSET" && l.lines[i-1].Conn == cur {
			return i - 1
		}
		return i
	}
	return n
}

// filing starts the transcripts of batch on c; nil without Transcript.
func (c *conn) filing(batch []*job) *filing {
	if c.conv == nil {
		return nil
	}
	return c.conv.filing(wiresOf(batch))
}

// markProbes notes addrs as random addresses sent on c (see
// convLog.markProbes).
func (c *conn) markProbes(addrs ...string) {
	if c.conv != nil {
		c.conv.markProbes(addrs...)
	}
}

// compact ends a batch's filing on c (see convLog.compact).
func (c *conn) compact(batch []*job) {
	if c.conv != nil {
		c.conv.compact(wiresOf(batch))
	}
}

func wiresOf(batch []*job) []string {
	w := make([]string, len(batch))
	for k, j := range batch {
		w[k] = j.wire
	}
	return w
}
