// Package csvsniff reads list files as spreadsheet programs write them:
// it detects the encoding (UTF-8 with or without a byte-order mark,
// UTF-16 with one, Windows-1252 otherwise), the separator (comma,
// semicolon, tab or pipe) and whether quotes are used strictly, and reads
// records keeping the text of each one as it was, so that a file can be
// written back with columns appended and its cells untouched.
package csvsniff

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// Encodings Sniff reports.
const (
	UTF8        = "utf-8"
	UTF8BOM     = "utf-8-bom"
	UTF16LE     = "utf-16le"
	UTF16BE     = "utf-16be"
	Windows1252 = "windows-1252"
)

// SampleSize is how much of a file Sniff needs to decide.
const SampleSize = 64 << 10

// Separators are the ones Sniff considers, in order of preference on a
// tie.
var Separators = []rune{',', ';', '\t', '|'}

// A Format is how a file is written.
type Format struct {
	Encoding string
	Sep      rune
	// Lazy is set when quotes appear inside unquoted fields, which
	// strict CSV refuses and spreadsheets take literally.
	Lazy bool
}

// Sniff decides the format from the first bytes of a file (SampleSize or
// all of it).
func Sniff(sample []byte) Format {
	f := Format{Encoding: Encoding(sample)}
	text := decodeSample(sample, f.Encoding)
	f.Sep = Separator(text)
	f.Lazy = needsLazy(text, f.Sep)
	return f
}

// Encoding names the encoding of a sample.
func Encoding(sample []byte) string {
	switch {
	case bytes.HasPrefix(sample, []byte{0xEF, 0xBB, 0xBF}):
		return UTF8BOM
	case bytes.HasPrefix(sample, []byte{0xFF, 0xFE}):
		return UTF16LE
	case bytes.HasPrefix(sample, []byte{0xFE, 0xFF}):
		return UTF16BE
	}
	// A sample may end inside a character: ignore an incomplete tail.
	s := sample
	for i := 0; i < utf8.UTFMax && len(s) > 0; i++ {
		if r, _ := utf8.DecodeLastRune(s); r != utf8.RuneError || utf8.Valid(s) {
			break
		}
		s = s[:len(s)-1]
	}
	if utf8.Valid(s) {
		return UTF8
	}
	return Windows1252
}

// Decoder returns src as UTF-8 text, without a byte-order mark.
func Decoder(src io.Reader, enc string) io.Reader {
	switch enc {
	case UTF8BOM:
		return transform.NewReader(src, unicode.UTF8BOM.NewDecoder())
	case UTF16LE:
		return transform.NewReader(src, unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder())
	case UTF16BE:
		return transform.NewReader(src, unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM).NewDecoder())
	case Windows1252:
		return transform.NewReader(src, charmap.Windows1252.NewDecoder())
	}
	return src
}

func decodeSample(sample []byte, enc string) string {
	if enc == UTF16LE || enc == UTF16BE {
		sample = sample[:len(sample)&^1]
	}
	b, _ := io.ReadAll(Decoder(bytes.NewReader(sample), enc))
	return string(b)
}

// Separator picks the separator of a text: the candidate that splits
// the most lines into the same number of fields (more than one),
// counting outside quotes; a comma when none does.
func Separator(text string) rune {
	lines := sampleLines(text, 50)
	best, bestScore := ',', 0
	for _, sep := range Separators {
		counts := map[int]int{}
		for _, l := range lines {
			if n := countOutsideQuotes(l, sep); n > 0 {
				counts[n]++
			}
		}
		// The score is the lines that agree on the commonest count,
		// weighted a little by the count so that a wider split wins a
		// tie between separators found on every line.
		score := 0
		for n, c := range counts {
			if s := c*64 + min(n, 63); s > score {
				score = s
			}
		}
		if score > bestScore {
			best, bestScore = sep, score
		}
	}
	return best
}

// sampleLines returns up to n records' lines of text, skipping blank
// ones and the last when the sample may have cut it.
func sampleLines(text string, n int) []string {
	var out []string
	inQuote := false
	start := 0
	for i := 0; i < len(text) && len(out) < n; i++ {
		switch text[i] {
		case '"':
			inQuote = !inQuote
		case '\n':
			if !inQuote {
				if l := strings.TrimRight(text[start:i], "\r"); strings.TrimSpace(l) != "" {
					out = append(out, l)
				}
				start = i + 1
			}
		}
	}
	if len(out) == 0 && strings.TrimSpace(text[start:]) != "" {
		out = append(out, text[start:])
	}
	return out
}

func countOutsideQuotes(line string, sep rune) int {
	n, inQuote := 0, false
	for _, r := range line {
		switch {
		case r == '"':
			inQuote = !inQuote
		case r == sep && !inQuote:
			n++
		}
	}
	return n
}

// needsLazy reports whether strict CSV refuses the sample's complete
// lines for their quotes.
func needsLazy(text string, sep rune) bool {
	if i := strings.LastIndexByte(text, '\n'); i >= 0 {
		text = text[:i+1]
	}
	cr := csv.NewReader(strings.NewReader(text))
	cr.Comma, cr.FieldsPerRecord = sep, -1
	for {
		_, err := cr.Read()
		if err == nil {
			continue
		}
		var pe *csv.ParseError
		return errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrBareQuote)
	}
}
