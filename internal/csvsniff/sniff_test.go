package csvsniff

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf16"

	"golang.org/x/text/encoding/charmap"
)

func utf16le(s string, bom bool) []byte {
	var b []byte
	if bom {
		b = append(b, 0xFF, 0xFE)
	}
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return b
}

func cp1252(t *testing.T, s string) []byte {
	b, err := charmap.Windows1252.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSniff(t *testing.T) {
	euro := "Vorname;Nachname;E-Mail;Firma\r\nRenée;Müller;renee@example.com;\"ACME; GmbH\"\r\nJörg;Öz;joerg@example.com;X\r\n"
	cases := []struct {
		name string
		data []byte
		want Format
	}{
		{"semicolons in Windows-1252", cp1252(t, euro), Format{Windows1252, ';', false}},
		{"semicolons in UTF-8", []byte(euro), Format{UTF8, ';', false}},
		{"UTF-8 with BOM and CRLF", append([]byte{0xEF, 0xBB, 0xBF}, "name,email\r\nJane,jane@example.com\r\n"...), Format{UTF8BOM, ',', false}},
		{"UTF-16 LE", utf16le("name\temail\nRenée\trenee@example.com\n", true), Format{UTF16LE, '\t', false}},
		{"pipes", []byte("a|b|c\n1|2|3\n"), Format{UTF8, '|', false}},
		{"commas inside quotes with semicolons", []byte("\"Doe, Jane\";jane@example.com\n\"Roe, Bob\";bob@example.com\n"), Format{UTF8, ';', false}},
		{"one column", []byte("jane@example.com\nbob@example.com\n"), Format{UTF8, ',', false}},
		{"bare quotes", []byte("name,email\nJane \"JD\" Doe,jane@example.com\n"), Format{UTF8, ',', true}},
	}
	for _, c := range cases {
		if got := Sniff(c.data); got != c.want {
			t.Errorf("%s: %+v; want %+v", c.name, got, c.want)
		}
	}
}

func TestSniffCutSample(t *testing.T) {
	// A sample that ends inside "é" is still UTF-8.
	data := []byte("name,email\nRen\xc3")
	if got := Encoding(data); got != UTF8 {
		t.Errorf("cut sample: %s; want utf-8", got)
	}
}

// TestReaderKeepsText reads a file and writes it back from the records'
// text: the same bytes, decoded.
func TestReaderKeepsText(t *testing.T) {
	text := "Vorname;E-Mail;Notiz\r\n\r\nRenée;renee@example.com;\"zwei\r\nZeilen; mit \"\"Zitat\"\"\"\r\nJörg;joerg@example.com\r\n\r\n"
	for _, enc := range []string{UTF8, UTF8BOM, Windows1252, UTF16LE} {
		var data []byte
		switch enc {
		case UTF8:
			data = []byte(text)
		case UTF8BOM:
			data = append([]byte{0xEF, 0xBB, 0xBF}, text...)
		case Windows1252:
			data = cp1252(t, text)
		case UTF16LE:
			data = utf16le(text, true)
		}
		f := Sniff(data)
		if f.Encoding != enc || f.Sep != ';' {
			t.Fatalf("%s: sniffed %+v", enc, f)
		}
		r := NewReader(bytes.NewReader(data), f)
		var out bytes.Buffer
		var fields [][]string
		for {
			rec, err := r.Read()
			if errors.Is(err, io.EOF) {
				out.Write(r.Rest())
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", enc, err)
			}
			fields = append(fields, append([]string(nil), rec.Fields...))
			out.Write(rec.Blank)
			out.Write(rec.Text)
			out.Write(rec.EOL)
		}
		if out.String() != text {
			t.Errorf("%s: read back %q; want %q", enc, out.String(), text)
		}
		if len(fields) != 3 || fields[1][0] != "Renée" || fields[1][2] != "zwei\nZeilen; mit \"Zitat\"" || fields[2][1] != "joerg@example.com" {
			t.Errorf("%s: fields %q", enc, fields)
		}
	}
}

func TestReaderLargeFile(t *testing.T) {
	var b strings.Builder
	b.WriteString("name,email\n")
	for i := range 20000 {
		b.WriteString("Person ")
		b.WriteString(strings.Repeat("x", i%50))
		b.WriteString(",p@example.com\n")
	}
	r := NewReader(strings.NewReader(b.String()), Format{Encoding: UTF8, Sep: ','})
	var out strings.Builder
	n := 0
	for {
		rec, err := r.Read()
		if err != nil {
			break
		}
		n++
		out.Write(rec.Blank)
		out.Write(rec.Text)
		out.Write(rec.EOL)
	}
	if n != 20001 || out.String() != b.String() {
		t.Errorf("read %d records, text equal %v; want 20001 and equal", n, out.String() == b.String())
	}
	if c := cap(r.rec.buf); c > 1<<20 {
		t.Errorf("the read buffer grew to %d bytes", c)
	}
}

func TestAddress(t *testing.T) {
	for in, want := range map[string]string{
		"  jane@example.com\t":                  "jane@example.com",
		"Jane Doe <jane@example.com>":           "jane@example.com",
		"\"Doe, Jane\" <jane@example.com>":      "jane@example.com",
		"mailto:jane@example.com?subject=Hello": "jane@example.com",
		"MAILTO:bob@example.com":                "bob@example.com",
		"<not an address>":                      "<not an address>",
		"Jane Doe":                              "Jane Doe",
	} {
		if got := Address(in); got != want {
			t.Errorf("Address(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestPickColumn(t *testing.T) {
	sample := [][]string{{"Jane", "Doe", "jane@example.com"}, {"Bob", "Roe", "bob@example.com"}}
	if c, _ := PickColumn([]string{"Vorname", "Nachname", "E-Mail"}, sample, ""); c != 2 {
		t.Errorf("by header: %d; want 2", c)
	}
	if c, _ := PickColumn(nil, sample, ""); c != 2 {
		t.Errorf("no header: %d; want 2 (the column with @)", c)
	}
	if c, _ := PickColumn([]string{"a", "b", "c"}, sample, "2"); c != 1 {
		t.Errorf("by number: %d; want 1", c)
	}
	if _, err := PickColumn([]string{"a", "b", "c"}, sample, "email"); err == nil {
		t.Error("a missing column is not an error")
	}
	if err := CheckColumn(sample, 0, "Vorname"); err == nil || !strings.Contains(err.Error(), "0 of its first 2") {
		t.Errorf("names as addresses: %v; want a refusal saying why", err)
	}
	if err := CheckColumn(sample, 2, "E-Mail"); err != nil {
		t.Errorf("the address column refused: %v", err)
	}
}
