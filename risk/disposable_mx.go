package risk

import (
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
	err := readTable(r, 4, func(f []string) error {
		if f[1] != "mx" {
			return fmt.Errorf("record type %q; want mx", f[1])
		}
		rule, err := parseName(f[2])
		if err != nil {
			return err
		}
		rule.entry, rule.record = entry{service: f[0], kind: "disposable", source: f[3]}, "mx"
		t.rules = append(t.rules, rule)
		return nil
	})
	return t, err
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
