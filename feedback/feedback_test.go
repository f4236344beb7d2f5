package feedback

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func parseFile(t *testing.T, name string) []Event {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	evs, err := ParseDSN(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return evs
}

func TestParseDSN(t *testing.T) {
	for _, tc := range []struct {
		file   string
		want   []Event
		atYear int
	}{
		{"postfix.eml", []Event{{Address: "gone@catchall.example", Kind: HardBounce, Status: "5.1.1"}}, 2026},
		{"exim.eml", []Event{{Address: "jane@full.example", Kind: SoftBounce, Status: "4.2.2"},
			{Address: "bob@Example.ORG", Kind: HardBounce, Status: "5.2.1"}}, 2026},
		{"exchange.eml", []Event{{Address: "someone@tenant.example", Kind: HardBounce, Status: "5.1.10"}}, 2026},
		{"gmail.eml", []Event{{Address: "jane@catchall.example", Kind: Delivered, Status: "2.0.0"}}, 2026},
	} {
		evs := parseFile(t, tc.file)
		if len(evs) != len(tc.want) {
			t.Fatalf("%s: %d events; want %d: %+v", tc.file, len(evs), len(tc.want), evs)
		}
		for i, w := range tc.want {
			e := evs[i]
			if e.Address != w.Address || e.Kind != w.Kind || e.Status != w.Status || e.Source != "dsn" || e.At.Year() != tc.atYear || e.Reply == "" {
				t.Errorf("%s #%d: %+v; want %s %s %s with a date and the reply", tc.file, i, e, w.Address, w.Kind, w.Status)
			}
		}
	}
	gmail := parseFile(t, "gmail.eml")[0]
	if want := time.Date(2026, 11, 26, 17, 30, 0, 0, time.UTC); !gmail.At.Equal(want) {
		t.Errorf("Last-Attempt-Date: %v; want %v", gmail.At, want)
	}
}

func TestNotADSN(t *testing.T) {
	for _, msg := range []string{
		"From: a@b.example\r\nSubject: Out of office\r\nContent-Type: text/plain\r\n\r\nI am away.\r\n",
		"Content-Type: multipart/report; report-type=disposition-notification; boundary=x\r\n\r\n--x--\r\n",
		"Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n--x--\r\n",
	} {
		if _, err := ParseDSN(strings.NewReader(msg)); !errors.Is(err, ErrNotDSN) {
			t.Errorf("ParseDSN(%.40q) = %v; want ErrNotDSN", msg, err)
		}
	}
}

func TestReadMboxAndNDJSON(t *testing.T) {
	var mbox bytes.Buffer
	for _, f := range []string{"postfix.eml", "exim.eml", "gmail.eml"} {
		data, err := os.ReadFile("testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		mbox.WriteString("From MAILER-DAEMON Mon Nov 30 10:00:05 2026\n")
		mbox.Write(data)
		mbox.WriteString("\n")
	}
	mbox.WriteString("From someone Mon Nov 30 11:00:00 2026\nSubject: not a bounce\n\n>From the desk of...\n\n")
	var got []Event
	st, err := Read(&mbox, func(e Event) error { got = append(got, e); return nil })
	if err != nil || st.Messages != 4 || st.Skipped != 1 || st.Events != 4 || len(got) != 4 {
		t.Fatalf("mbox: %+v, %v, %d events", st, err, len(got))
	}
	nd := `{"address":"jane@esp.example","event":"bounce","type":"hard","status":"5.1.1","at":"2026-11-30T10:00:00Z"}
{"address":"bob@esp.example","event":"delivered","at":"2026-11-29T10:00:00Z"}
`
	got = nil
	st, err = Read(strings.NewReader(nd), func(e Event) error { got = append(got, e); return nil })
	if err != nil || st.Events != 2 || got[0].Kind != HardBounce || got[1].Kind != Delivered || got[0].Source != "esp" {
		t.Fatalf("NDJSON: %+v %v %+v", st, err, got)
	}
	for _, bad := range []string{`{"address":"x@y.example","event":"bounce","at":"2026-11-30T10:00:00Z"}`, `{"event":"delivered","at":"2026-11-30T10:00:00Z"}`,
		`{"address":"x@y.example","event":"delivered"}`, `{"address": 3}`} {
		if _, err := Read(strings.NewReader(bad+"\n"), func(Event) error { return nil }); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("Read(%s) = %v; want an error naming line 1", bad, err)
		}
	}
}

func TestMemoryHistory(t *testing.T) {
	h := &Memory{Max: 100}
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	_ = h.Record(Event{Address: "Jane@Example.COM", Kind: HardBounce, At: t0.Add(time.Hour)})
	_ = h.Record(Event{Address: "Jane@example.com", Kind: Delivered, At: t0}) // older: kept out
	if e, ok, _ := h.Lookup("<Jane@example.com>"); !ok || e.Kind != HardBounce {
		t.Errorf("Lookup = %+v %v; want the newer hard bounce", e, ok)
	}
	if _, ok, _ := h.Lookup("jane@example.com"); ok {
		t.Error("a local part of another case shares the evidence")
	}
	for i := range 1000 {
		_ = h.Record(Event{Address: "u" + string(rune('a'+i%26)) + strings.Repeat("x", i%50) + "@b.example", Kind: Delivered, At: t0.Add(time.Duration(i) * time.Minute)})
	}
	h.mu.Lock()
	n := len(h.m)
	h.mu.Unlock()
	if n > 100 {
		t.Errorf("%d events kept; the bound is 100", n)
	}
}

func FuzzParseDSN(f *testing.F) {
	for _, name := range []string{"postfix.eml", "exim.eml", "exchange.eml", "gmail.eml"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, err := ParseDSN(bytes.NewReader(data))
		if err == nil && len(evs) == 0 {
			t.Error("no error and no events")
		}
		for _, e := range evs {
			if !strings.Contains(e.Address, "@") || e.Kind == 0 {
				t.Errorf("event %+v", e)
			}
		}
		_, _ = Read(bytes.NewReader(data), func(Event) error { return nil })
	})
}
