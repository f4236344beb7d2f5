package input

import (
	"slices"
	"strings"
	"testing"
)

func addrs(t *testing.T, rd *Reader) []string {
	t.Helper()
	var out []string
	for e := range rd.All {
		out = append(out, e.Addr)
	}
	return out
}

func TestLinesTrim(t *testing.T) {
	rd := Lines(strings.NewReader("\ufeff jane@example.com\r\n\n\t bob@example.com \r\n   \n"))
	if got := addrs(t, rd); !slices.Equal(got, []string{"jane@example.com", "bob@example.com"}) || rd.Err() != nil {
		t.Errorf("Lines = %q, %v", got, rd.Err())
	}
}

func TestLinesTooLong(t *testing.T) {
	rd := Lines(strings.NewReader("a@b.com\n" + strings.Repeat("x", MaxLine+1) + "\n"))
	addrs(t, rd)
	if rd.Err() == nil || !strings.Contains(rd.Err().Error(), "line 2") {
		t.Errorf("a line over the limit: err %v; want one naming line 2", rd.Err())
	}
}

func TestCSVColumn(t *testing.T) {
	const doc = "name,E-Mail,city\nJane, jane@example.com ,Oslo\nBob,,Rome\nAl,al@example.com\n"
	for _, tc := range []struct {
		column string
		want   []string
		err    bool
	}{
		{"", []string{"jane@example.com", "al@example.com"}, false}, // detected
		{"e-mail", []string{"jane@example.com", "al@example.com"}, false},
		{"3", []string{"Oslo", "Rome"}, false},
		{"phone", nil, true},
		{"9", nil, true},
	} {
		rd, err := CSV(strings.NewReader(doc), tc.column)
		if (err != nil) != tc.err {
			t.Errorf("column %q: err %v; want error %v", tc.column, err, tc.err)
			continue
		}
		if err != nil {
			continue
		}
		if got := addrs(t, rd); !slices.Equal(got, tc.want) {
			t.Errorf("column %q: %q; want %q", tc.column, got, tc.want)
		}
	}
	if _, err := CSV(strings.NewReader(""), ""); err == nil {
		t.Error("an empty CSV has no header: want an error")
	}
	rd, _ := CSV(strings.NewReader("email\n\"jane@example.com\n"), "")
	addrs(t, rd)
	if rd.Err() == nil {
		t.Error("an unterminated quote: want an error")
	}
}

func TestNDJSON(t *testing.T) {
	rd := NDJSON(strings.NewReader("{\"address\":\"jane@example.com\"}\n\n{\"address\":\" bob@example.com\",\"x\":1}\n"))
	if got := addrs(t, rd); !slices.Equal(got, []string{"jane@example.com", "bob@example.com"}) || rd.Err() != nil {
		t.Errorf("NDJSON = %q, %v", got, rd.Err())
	}
	rd = NDJSON(strings.NewReader(`{"address":"jane@example.com","ref":"crm-17"}` + "\n"))
	for e := range rd.All {
		if e.Ref != "crm-17" {
			t.Errorf("ref %q; want crm-17", e.Ref)
		}
	}
	for _, bad := range []string{"{\"address\":\"a@b.com\"}\nnot json\n", "{\"email\":\"a@b.com\"}\n", "[1]\n",
		`{"address":"a@b.com","ref":"x\r\ny"}` + "\n", `{"address":"a@b.com","ref":"` + strings.Repeat("r", 300) + `"}` + "\n"} {
		rd := NDJSON(strings.NewReader(bad))
		addrs(t, rd)
		if rd.Err() == nil {
			t.Errorf("NDJSON(%q): no error", bad)
		}
	}
}
