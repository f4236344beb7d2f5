package input

import (
	"bytes"
	"slices"
	"testing"

	"golang.org/x/text/encoding/charmap"
)

// TestCSVAsSpreadsheetsWriteIt reads a European Excel export: semicolons,
// Windows-1252, a quoted cell with the separator.
func TestCSVAsSpreadsheetsWriteIt(t *testing.T) {
	data, err := charmap.Windows1252.NewEncoder().Bytes([]byte("Vorname;E-Mail;Firma\r\nRenée;renee@example.com;\"A; B\"\r\nJörg;joerg@example.com;X\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	rd, err := CSV(bytes.NewReader(data), "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for e := range rd.Seq() {
		got = append(got, e.Addr)
	}
	if want := []string{"renee@example.com", "joerg@example.com"}; !slices.Equal(got, want) || rd.Err() != nil {
		t.Errorf("addresses %q (%v); want %q", got, rd.Err(), want)
	}
	rd, err = CSV(bytes.NewReader(data), "Vorname")
	if err != nil {
		t.Fatal(err)
	}
	for e := range rd.Seq() {
		if e.Addr != "Renée" {
			t.Errorf("first name %q; want Renée decoded", e.Addr)
		}
		break
	}
}
