package smtpprobe

import (
	"bufio"
	"errors"
	"slices"
	"strings"
	"testing"
)

func parse(s string) (Reply, error) {
	return readReply(bufio.NewReader(strings.NewReader(s)), 2048, 100)
}

func TestReadReply(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in       string
		code     int
		enhanced string
		lines    []string
		err      error
	}{
		{"250 2.1.5 Ok\r\n", 250, "2.1.5", []string{"Ok"}, nil},
		{"220 mx.example.com ESMTP Postfix\r\n", 220, "", []string{"mx.example.com ESMTP Postfix"}, nil},
		{"250-mx.example.com\r\n250-PIPELINING\r\n250 SMTPUTF8\r\n", 250, "", []string{"mx.example.com", "PIPELINING", "SMTPUTF8"}, nil},
		{"550-5.1.1 The email account that you tried to reach does not exist.\r\n550 5.1.1 https://support.google.com/mail/?p=NoSuchUser x\r\n", 550, "5.1.1",
			[]string{"The email account that you tried to reach does not exist.", "https://support.google.com/mail/?p=NoSuchUser x"}, nil},
		{"250\r\n", 250, "", []string{""}, nil},
		{"250 ok\n", 250, "", []string{"ok"}, nil},
		{"550 Unrouteable address\r\n", 550, "", []string{"Unrouteable address"}, nil},
		{"550 5.1.1\r\n", 550, "5.1.1", []string{""}, nil},
		{"450 5.1.1 mismatched class keeps text\r\n", 450, "", []string{"5.1.1 mismatched class keeps text"}, nil},
		{"250 2.1.5.6 not an enhanced code\r\n", 250, "", []string{"2.1.5.6 not an enhanced code"}, nil},
		{"250-first\r\n251 second\r\n", 0, "", nil, ErrMalformed},
		{"abc\r\n", 0, "", nil, ErrMalformed},
		{"2500 x\r\n", 0, "", nil, ErrMalformed},
		{"650 x\r\n", 0, "", nil, ErrMalformed},
		{"25\r\n", 0, "", nil, ErrMalformed},
		{"250_x\r\n", 0, "", nil, ErrMalformed},
		{"250 " + strings.Repeat("x", 3000) + "\r\n", 0, "", nil, ErrLineTooLong},
		{strings.Repeat("250-x\r\n", 200), 0, "", nil, ErrTooManyLines},
	} {
		r, err := parse(tc.in)
		if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
			t.Errorf("readReply(%q) error = %v, want %v", shorten(tc.in), err, tc.err)
			continue
		}
		if err != nil {
			continue
		}
		if r.Code != tc.code || r.Enhanced.String() != tc.enhanced || !slices.Equal(r.Lines, tc.lines) {
			t.Errorf("readReply(%q) = %d %q %q, want %d %q %q", shorten(tc.in), r.Code, r.Enhanced, r.Lines, tc.code, tc.enhanced, tc.lines)
		}
	}
	// A reply cut short is an unexpected EOF, not a reply.
	if _, err := parse("250-first\r\n250 sec"); err == nil {
		t.Error("truncated reply parsed")
	}
}

func TestParseEnhancedCode(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"5.1.1 rest":  "5.1.1",
		"4.7.0":       "4.7.0",
		"5.1.10 x":    "5.1.10",
		"2.0.0 Ok":    "2.0.0",
		"5.999.999 x": "5.999.999",
		"3.1.1 x":     "",
		"5.1 x":       "",
		"5.1.1x":      "",
		"5.1.1000 x":  "",
		"55.1.1 x":    "",
		"5..1 x":      "",
		"":            "",
		"x5.1.1":      "",
		"5.1.1.1 x":   "",
		"5.01.001 x":  "5.1.1",
	} {
		e, _, ok := ParseEnhancedCode(in)
		if got := e.String(); got != want || ok != (want != "") {
			t.Errorf("ParseEnhancedCode(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func FuzzReadReply(f *testing.F) {
	for _, s := range []string{"250 2.1.5 Ok\r\n", "250-a\r\n250 b\r\n", "550 5.1.1 x\r\n", "421\r\n", "250-x\n250-y\n250 z\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := readReply(bufio.NewReader(strings.NewReader(s)), 512, 20)
		if err != nil {
			return
		}
		if r.Code < 200 || r.Code > 599 || len(r.Lines) == 0 || len(r.Lines) > 20 {
			t.Fatalf("readReply(%q) = %+v", s, r)
		}
		for _, l := range r.Lines {
			if len(l) > 514 || strings.ContainsAny(l, "\n") {
				t.Fatalf("readReply(%q): line %q", s, l)
			}
		}
		if !r.Enhanced.IsZero() && r.Enhanced.Class != r.Code/100 {
			t.Fatalf("readReply(%q): enhanced %v with code %d", s, r.Enhanced, r.Code)
		}
		Classify(r) // must not panic
	})
}

func FuzzParseEnhancedCode(f *testing.F) {
	for _, s := range []string{"5.1.1 x", "4.7.0", "2.0.0 ok", "5.1.10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, rest, ok := ParseEnhancedCode(s)
		if !ok {
			if !e.IsZero() || rest != s {
				t.Fatalf("ParseEnhancedCode(%q) failed but returned %v, %q", s, e, rest)
			}
			return
		}
		if e.Class != 2 && e.Class != 4 && e.Class != 5 || e.Subject > 999 || e.Detail > 999 {
			t.Fatalf("ParseEnhancedCode(%q) = %v", s, e)
		}
		// Round trip: the printed code parses back to itself.
		if e2, _, ok := ParseEnhancedCode(e.String()); !ok || e2 != e {
			t.Fatalf("round trip of %v gave %v, %v", e, e2, ok)
		}
		if len(rest) >= len(s) {
			t.Fatalf("ParseEnhancedCode(%q) consumed nothing", s)
		}
	})
}

func TestParseReply(t *testing.T) {
	for _, tc := range []struct {
		in   string
		code int
		enh  EnhancedCode
		text string
		err  bool
	}{
		{"550 5.1.1 <jane@example.com>: User unknown", 550, EnhancedCode{5, 1, 1}, "<jane@example.com>: User unknown", false},
		{" 550-5.2.1 The account is disabled. 550-5.2.1 More\r\n", 550, EnhancedCode{5, 2, 1}, "The account is disabled. 550-5.2.1 More", false},
		{"554 Message refused", 554, EnhancedCode{}, "Message refused", false},
		{"550 4.2.0 mismatched class", 550, EnhancedCode{}, "4.2.0 mismatched class", false},
		{"User unknown", 0, EnhancedCode{}, "", true},
		{"", 0, EnhancedCode{}, "", true},
	} {
		r, err := ParseReply(tc.in)
		if tc.err {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseReply(%q): %v, want ErrMalformed", tc.in, err)
			}
			continue
		}
		if err != nil || r.Code != tc.code || r.Enhanced != tc.enh || r.Text() != tc.text {
			t.Errorf("ParseReply(%q) = %+v, %v", tc.in, r, err)
		}
	}
}
