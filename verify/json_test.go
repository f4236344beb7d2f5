package verify

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/catchall"
)

// stdJSON is the reference: encoding/json without HTML escaping, less the
// newline Encode adds.
func stdJSON(t testing.TB, r Result) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// nasty are strings that exercise every escape.
var nasty = []string{"", "plain", "quote\"back\\slash", "ctl\x00\x01\x1f\x7f", "\b\f\n\r\t", "<html>&amp;", "ünïcødé 用户", "bad\xff\xfeutf8", "\u2028\u2029", "emoji 😀", "\xed\xa0\x80surrogate"}

// randomResult fills every exported field of a Result by reflection, so
// that a field added to Result and forgotten in AppendJSON fails the test.
func randomResult(rng *rand.Rand) Result {
	var r Result
	v := reflect.ValueOf(&r).Elem()
	for i := range v.NumField() {
		f, sf := v.Field(i), v.Type().Field(i)
		if !sf.IsExported() || sf.Name == "Err" || rng.IntN(5) == 0 {
			continue // leave some zero, to test omitempty
		}
		fill(f, rng)
	}
	return r
}

func fill(f reflect.Value, rng *rand.Rand) {
	switch f.Kind() {
	case reflect.String:
		f.SetString(nasty[rng.IntN(len(nasty))])
	case reflect.Bool:
		f.SetBool(rng.IntN(2) == 0)
	case reflect.Int, reflect.Int64:
		switch f.Type() {
		case reflect.TypeFor[Status](), reflect.TypeFor[catchall.Status]():
			f.SetInt(int64(rng.IntN(6) - 1))
		default:
			f.SetInt(rng.Int64N(int64(48*time.Hour)) - int64(time.Hour))
		}
	case reflect.Slice:
		n := rng.IntN(4)
		s := reflect.MakeSlice(f.Type(), n, n)
		for j := range n {
			fill(s.Index(j), rng)
		}
		f.Set(s)
	case reflect.Pointer:
		p := reflect.New(f.Type().Elem())
		for j := range p.Elem().NumField() {
			if rng.IntN(4) > 0 { // some fields stay zero, to test omitempty inside
				fill(p.Elem().Field(j), rng)
			}
		}
		f.Set(p)
	default:
		panic("randomResult: no filler for " + f.Type().String())
	}
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 20000 {
		r := randomResult(rng)
		if got, want := r.AppendJSON(nil), stdJSON(t, r); !bytes.Equal(got, want) {
			t.Fatalf("result %d:\nAppendJSON %s\nencoding/json %s", i, got, want)
		}
	}
	// The golden results too, byte for byte.
	var golden, mine bytes.Buffer
	for _, r := range goldenResults() {
		golden.Write(stdJSON(t, r))
		mine.Write(r.AppendJSON(nil))
	}
	if !bytes.Equal(golden.Bytes(), mine.Bytes()) {
		t.Errorf("golden results differ:\n%s\n%s", mine.Bytes(), golden.Bytes())
	}
}

func FuzzAppendJSON(f *testing.F) {
	for _, s := range nasty {
		f.Add(s, s, 250, int64(time.Second))
	}
	f.Fuzz(func(t *testing.T, input, msg string, code int, d int64) {
		r := Result{Input: input, Status: Status(code % 7), Reason: Reason(msg), Address: msg, MXHosts: strings.Fields(input),
			SMTP: &SMTPReply{Code: code, EnhancedCode: input, Message: msg, Host: input}, RetryAfter: Seconds(d), Duration: Millis(d),
			Transcript: strings.Split(msg, "\n"), Error: input, CatchAll: catchall.Status(code % 4)}
		if got, want := r.AppendJSON(nil), stdJSON(t, r); !bytes.Equal(got, want) {
			t.Fatalf("AppendJSON %s\nencoding/json %s", got, want)
		}
	})
}

// BenchmarkResultJSON compares AppendJSON with encoding/json on a typical
// result, in the same run.
//
//	go test -run '^$' -bench BenchmarkResultJSON -benchmem ./verify
func BenchmarkResultJSON(b *testing.B) {
	r := goldenResults()[0]
	b.Run("AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf = r.AppendJSON(buf[:0])
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		for b.Loop() {
			buf.Reset()
			enc.Encode(r)
		}
	})
}
