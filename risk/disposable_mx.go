package risk

import (
	"bufio"
	_ "embed"
	"fmt"
	"io"
	"strings"
)

//go:embed disposable_mx.txt
var disposableMXData string

// DisposableMX is a table of disposable-mail services' mail hosts.
type DisposableMX struct{ rules []nameRule }

// DefaultDisposableMX is the embedded table (disposable_mx.txt).
var DefaultDisposableMX = mustParseDisposable()

func mustParseDisposable() *DisposableMX {
	t, err := ParseDisposableMX(strings.NewReader(disposableMXData))
	if err != nil {
		panic("risk: the embedded disposable MX table: " + err.Error())
	}
	return t
}

// ParseDisposableMX reads a table in the format of disposable_mx.txt.
func ParseDisposableMX(r io.Reader) (*DisposableMX, error) {
	t := &DisposableMX{}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 4 || f[1] != "mx" {
			return nil, fmt.Errorf("line %d: want service, mx, host pattern and source, tab-separated", n)
		}
		rule, err := parseName(f[2])
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		rule.entry, rule.record = entry{service: f[0], kind: "disposable", source: f[3]}, "mx"
		t.rules = append(t.rules, rule)
	}
	return t, sc.Err()
}

// Match returns the evidence that a domain with these MX hosts takes
// throwaway mail, or nil.
func (t *DisposableMX) Match(mxHosts []string) *Evidence {
	var ev *Evidence
	for _, h := range mxHosts {
		for _, r := range t.rules {
			if !r.match(h) {
				continue
			}
			if ev == nil {
				ev = &Evidence{Service: r.service, Source: r.source}
			}
			if r.service == ev.Service {
				ev.Seen = append(ev.Seen, "MX "+strings.TrimSuffix(strings.ToLower(h), "."))
			}
			break
		}
	}
	return ev
}
