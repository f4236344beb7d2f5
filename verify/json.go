package verify

import (
	"strconv"

	"github.com/mailverify/mailverify/risk"
	"time"
	"unicode/utf8"
)

// AppendJSON appends the JSON form of r to b and returns the result: the
// same bytes as encoding/json's Encoder with SetEscapeHTML(false), without
// the trailing newline (TestAppendJSONMatchesEncodingJSON and
// FuzzAppendJSON hold it to that). It is for programs that write millions
// of results; it allocates nothing beyond growing b.
func (r Result) AppendJSON(b []byte) []byte {
	b = append(b, `{"input":`...)
	b = appendJSONString(b, r.Input)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, r.Status.String())
	b = append(b, `,"reason":`...)
	b = appendJSONString(b, string(r.Reason))
	b = appendOptString(b, `,"address":`, r.Address)
	b = appendOptString(b, `,"local_part":`, r.Local)
	b = appendOptString(b, `,"domain":`, r.Domain)
	b = appendOptString(b, `,"domain_ascii":`, r.DomainASCII)
	b = appendBool(b, `,"disposable":`, r.Disposable)
	b = appendBool(b, `,"role_account":`, r.RoleAccount)
	b = appendBool(b, `,"free_provider":`, r.FreeProvider)
	b = append(b, `,"catch_all":`...)
	b = appendJSONString(b, r.CatchAll.String())
	b = appendBool(b, `,"smtputf8":`, r.SMTPUTF8)
	b = appendBool(b, `,"subaddress":`, r.Subaddress)
	b = appendOptString(b, `,"suggestion":`, r.Suggestion)
	b = appendOptString(b, `,"provider":`, r.Provider)
	b = appendOptString(b, `,"backend":`, r.Backend)
	if r.Risk != nil {
		b = appendRisk(b, r.Risk)
	}
	if f := r.Feedback; f != nil {
		b = append(b, `,"feedback":{"kind":`...)
		b = appendJSONString(b, f.Kind)
		b = appendOptString(b, `,"status":`, f.Status)
		b = appendOptString(b, `,"reply":`, f.Reply)
		b = append(b, `,"at":`...)
		b = appendJSONString(b, f.At)
		b = appendOptString(b, `,"source":`, f.Source)
		b = append(b, '}')
	}
	if p := r.ProviderProbe; p != nil {
		b = append(b, `,"provider_probe":{"exists":`...)
		b = appendJSONString(b, p.Exists)
		b = appendOptString(b, `,"method":`, p.Method)
		b = append(b, '}')
	}
	if len(r.MXHosts) > 0 {
		b = appendStrings(b, `,"mx_hosts":`, r.MXHosts)
	}
	if s := r.SMTP; s != nil {
		b = append(b, `,"smtp":{"code":`...)
		b = strconv.AppendInt(b, int64(s.Code), 10)
		b = appendOptString(b, `,"enhanced_code":`, s.EnhancedCode)
		b = append(b, `,"message":`...)
		b = appendJSONString(b, s.Message)
		b = append(b, `,"host":`...)
		b = appendJSONString(b, s.Host)
		b = append(b, '}')
	}
	if r.RetryAfter != 0 {
		b = append(b, `,"retry_after":`...)
		d := time.Duration(r.RetryAfter)
		b = strconv.AppendInt(b, int64((d+time.Second-1)/time.Second), 10)
	}
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendInt(b, time.Duration(r.Duration).Milliseconds(), 10)
	if len(r.Transcript) > 0 {
		b = appendStrings(b, `,"transcript":`, r.Transcript)
	}
	b = appendOptString(b, `,"error":`, r.Error)
	return append(b, '}')
}

func appendRisk(b []byte, k *risk.Risk) []byte {
	b = append(b, `,"risk":{`...)
	first := true
	for _, f := range []struct {
		key string
		ev  *risk.Evidence
	}{{`"parked":`, k.Parked}, {`"disposable_network":`, k.DisposableNetwork}, {`"listed":`, k.Listed},
		{`"new_domain":`, k.NewDomain}, {`"typo_trap":`, k.TypoTrap}, {`"trap_local_part":`, k.TrapLocalPart}, {`"accepts_all_by_policy":`, k.AcceptsAllByPolicy}} {
		if f.ev == nil {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, f.key...)
		b = appendEvidence(b, f.ev)
	}
	return append(b, '}')
}

func appendEvidence(b []byte, ev *risk.Evidence) []byte {
	b = append(b, '{')
	n := len(b)
	sep := func() {
		if len(b) > n {
			b = append(b, ',')
		}
	}
	if ev.Service != "" {
		b = append(b, `"service":`...)
		b = appendJSONString(b, ev.Service)
	}
	if len(ev.Seen) > 0 {
		sep()
		b = appendStrings(b, `"seen":`, ev.Seen)
	}
	if ev.Source != "" {
		sep()
		b = append(b, `"source":`...)
		b = appendJSONString(b, ev.Source)
	}
	return append(b, '}')
}

func appendOptString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	b = append(b, key...)
	return appendJSONString(b, s)
}

func appendBool(b []byte, key string, v bool) []byte {
	b = append(b, key...)
	return strconv.AppendBool(b, v)
}

func appendStrings(b []byte, key string, ss []string) []byte {
	b = append(b, key...)
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string the way encoding/json
// writes it without HTML escaping: quotes and backslashes escaped, control
// characters as \b \f \n \r \t or \u00XX, invalid UTF-8 as \ufffd, and
// U+2028 and U+2029 escaped for JavaScript's sake.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
