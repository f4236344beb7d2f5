package egress

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseFile(t *testing.T) {
	const file = `# Microsoft gets two addresses of its own; everyone else the rest.
192.0.2.10 name=ms-a helo=mx-a.example.net providers=microsoft365,Outlook
192.0.2.11 name=ms-b helo=mx-b.example.net providers=microsoft365,outlook # second
192.0.2.12 helo=mx-c.example.net from=verify@example.net	# tab comment

[2001:db8::1] from=<>
socks5://u:p@proxy.example:1080 helo=proxy.example source=192.0.2.13 providers=*,google
`
	es, err := ParseFile(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range es {
		ids = append(ids, e.ID())
	}
	want := []string{"ms-a", "ms-b", "192.0.2.12", "2001:db8::1", "socks5://proxy.example:1080"}
	if !slices.Equal(ids, want) {
		t.Fatalf("ids %v, want %v", ids, want)
	}
	if !slices.Equal(es[0].Providers, []string{"microsoft365", "outlook"}) || es[0].HELO != "mx-a.example.net" {
		t.Errorf("line 2: %+v", es[0])
	}
	if es[2].MailFrom != "verify@example.net" || es[3].MailFrom != "" {
		t.Errorf("from: %q, %q", es[2].MailFrom, es[3].MailFrom)
	}
	if es[4].Source.String() != "192.0.2.13" || es[4].HELO != "proxy.example" {
		t.Errorf("proxy line: %+v", es[4])
	}
}

func TestParseFileErrors(t *testing.T) {
	for _, tc := range []struct {
		file string
		line int
		err  error
	}{
		{"192.0.2.10\nnot-an-address\n", 2, ErrAddress},
		{"# c\n\nftp://x.example\n", 3, ErrProxy},
		{"192.0.2.10 helo\n", 1, ErrField},
		{"192.0.2.10 colour=blue\n", 1, ErrField},
		{"192.0.2.10 helo=<bad>\n", 1, ErrField},
		{"192.0.2.10 from=nobody\n", 1, ErrField},
		{"192.0.2.10 providers=google,,yahoo\n", 1, ErrField},
		{"192.0.2.10 source=192.0.2.11\n", 1, ErrField},
		{"socks5://p.example source=nope\n", 1, ErrAddress},
		{"192.0.2.10 name=a/b\n", 1, ErrField},
		{"192.0.2.10\n192.0.2.10\n", 2, ErrDuplicate},
		{"192.0.2.10 name=a\n192.0.2.11 name=a\n", 2, ErrDuplicate},
	} {
		_, err := ParseFile(strings.NewReader(tc.file))
		var pe *ParseError
		if !errors.As(err, &pe) || !errors.Is(err, tc.err) || pe.Line != tc.line {
			t.Errorf("ParseFile(%q) = %v, want a *ParseError on line %d wrapping %v", tc.file, err, tc.line, tc.err)
		}
	}
}

func TestParseFileHidesPasswords(t *testing.T) {
	_, err := ParseFile(strings.NewReader("socks5://u:s3cret@p.example colour=x\n"))
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %v shows the password (or is nil)", err)
	}
}

func TestServes(t *testing.T) {
	pinned := map[string]bool{"microsoft365": true}
	for _, tc := range []struct {
		providers []string
		provider  string
		want      bool
	}{
		{nil, "google", true},
		{nil, "microsoft365", false},
		{[]string{"microsoft365"}, "microsoft365", true},
		{[]string{"microsoft365"}, "google", false},
		{[]string{"microsoft365", "*"}, "google", true},
		{[]string{"*"}, "microsoft365", false},
	} {
		e := Egress{Providers: tc.providers}
		if got := e.Serves(tc.provider, pinned); got != tc.want {
			t.Errorf("Egress{Providers: %v}.Serves(%q) = %v, want %v", tc.providers, tc.provider, got, tc.want)
		}
	}
}
