package csvsniff

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"io"
	"strings"
)

// A Record is one record of a file: its fields, and its text as it was
// (decoded to UTF-8), apart from the line ending.
type Record struct {
	Fields []string
	// Blank is the blank lines before the record, as they were.
	Blank []byte
	// Text is the record as it was written, quotes and all; EOL is its
	// line ending ("\r\n", "\n" or none at the end of the file).
	Text, EOL []byte
	// Line is the record's first line in the file, from 1.
	Line int
}

// A Reader reads the records of a file in a Format. Its memory is one
// record and a read-ahead buffer, whatever the file's size.
type Reader struct {
	cr   *csv.Reader
	rec  *recorder
	prev int64
}

// NewReader reads src, which is in format f.
func NewReader(src io.Reader, f Format) *Reader {
	rec := &recorder{r: Decoder(src, f.Encoding)}
	cr := csv.NewReader(bufio.NewReaderSize(rec, 16<<10))
	cr.Comma, cr.FieldsPerRecord, cr.LazyQuotes, cr.ReuseRecord = f.Sep, -1, f.Lazy, true
	return &Reader{cr: cr, rec: rec}
}

// Read returns the next record, or io.EOF after the last. The record's
// slices are valid until the next call.
func (r *Reader) Read() (Record, error) {
	r.rec.drop(r.prev)
	fields, err := r.cr.Read()
	if err != nil {
		return Record{}, err
	}
	end := r.cr.InputOffset()
	raw := r.rec.take(r.prev, end)
	r.prev = end
	line, _ := r.cr.FieldPos(0)
	out := Record{Fields: fields, Line: line}
	body := bytes.TrimLeft(raw, "\r\n")
	out.Blank = raw[:len(raw)-len(body)]
	switch {
	case bytes.HasSuffix(body, []byte("\r\n")):
		out.Text, out.EOL = body[:len(body)-2], body[len(body)-2:]
	case bytes.HasSuffix(body, []byte("\n")):
		out.Text, out.EOL = body[:len(body)-1], body[len(body)-1:]
	default:
		out.Text = body
	}
	return out, nil
}

// Rest returns what follows the last record (blank lines), once Read
// has returned io.EOF.
func (r *Reader) Rest() []byte { return r.rec.take(r.prev, r.rec.off) }

// recorder keeps what was read from r that the caller has not taken.
type recorder struct {
	r    io.Reader
	buf  []byte
	base int64 // the offset of buf[0]
	off  int64 // the offset after buf
}

func (c *recorder) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.buf = append(c.buf, p[:n]...)
	c.off += int64(n)
	return n, err
}

// take returns the bytes from offset from to offset to.
func (c *recorder) take(from, to int64) []byte { return c.buf[from-c.base : to-c.base] }

// drop forgets the bytes before offset to, moving the rest to the front
// once enough is forgotten that the move costs little.
func (c *recorder) drop(to int64) {
	k := int(to - c.base)
	if k < 64<<10 || k < len(c.buf)/2 {
		return
	}
	n := copy(c.buf, c.buf[k:])
	c.buf, c.base = c.buf[:n], to
}

// Address returns the address in a cell as people write it: the cell
// trimmed, the part in angle brackets of "Jane Doe <jane@example.com>",
// or the address of a mailto: link without its query.
func Address(cell string) string {
	s := strings.TrimFunc(cell, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == '\ufeff' || r == '\u00a0'
	})
	if i := strings.LastIndexByte(s, '<'); i >= 0 && strings.HasSuffix(s, ">") && strings.Contains(s[i:], "@") {
		s = strings.TrimSpace(s[i+1 : len(s)-1])
	}
	if len(s) > 7 && strings.EqualFold(s[:7], "mailto:") {
		s = s[7:]
		if i := strings.IndexByte(s, '?'); i >= 0 {
			s = s[:i]
		}
		s = strings.TrimSpace(s)
	}
	return s
}
