package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

func jsonArray(b []byte) ([]string, error) {
	var out []string
	err := json.Unmarshal(b, &out)
	return out, err
}

func fakefilterDomains(b []byte) ([]string, error) {
	var v struct {
		Domains map[string]json.RawMessage `json:"domains"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(v.Domains))
	for d := range v.Domains {
		out = append(out, d)
	}
	return out, nil
}

// lines returns the non-empty lines that are not # comments.
func lines(b []byte) ([]string, error) {
	var out []string
	for l := range strings.SplitSeq(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out, nil
}

// between returns an extractor of the JavaScript string literals between
// the first start marker and the next end marker.
func between(start, end string) func([]byte) ([]string, error) {
	return func(b []byte) ([]string, error) {
		i := bytes.Index(b, []byte(start))
		if i < 0 {
			return nil, fmt.Errorf("marker %q not found", start)
		}
		b = b[i+len(start):]
		j := bytes.Index(b, []byte(end))
		if j < 0 {
			return nil, fmt.Errorf("marker %q not found", end)
		}
		return stringLiterals(string(b[:j])), nil
	}
}

// stringLiterals returns the contents of the '...' and "..." literals in
// s; the lists hold no escapes.
func stringLiterals(s string) []string {
	var out []string
	for i := 0; i < len(s); i++ {
		q := s[i]
		if q != '"' && q != '\'' {
			continue
		}
		j := strings.IndexByte(s[i+1:], q)
		if j < 0 {
			break
		}
		out = append(out, s[i+1:i+1+j])
		i += j + 1
	}
	return out
}
