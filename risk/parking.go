package risk

import (
	"bufio"
	_ "embed"
	"fmt"
	"io"
	"net/netip"
	"path"
	"strings"
)

//go:embed parking.txt
var parkingData string

// A Parking table recognizes the DNS records of parking services.
type Parking struct {
	names  []nameRule // ns and cname
	ranges []rangeRule
}

type entry struct{ service, kind, source string }

type nameRule struct {
	entry
	record string // "ns" or "cname"
	first  string // the first label, a path.Match pattern ("ns*")
	rest   string // the labels after the first, with the dot: ".above.com"
}

type rangeRule struct {
	entry
	prefix netip.Prefix
}

// DefaultParking is the embedded table (parking.txt).
var DefaultParking = mustParse()

func mustParse() *Parking {
	p, err := ParseParking(strings.NewReader(parkingData))
	if err != nil {
		panic("risk: the embedded parking table: " + err.Error())
	}
	return p
}

// ParseParking reads a table in the format of parking.txt.
func ParseParking(r io.Reader) (*Parking, error) {
	p := &Parking{}
	err := readTable(r, 5, func(f []string) error {
		e := entry{service: f[0], kind: f[1], source: f[4]}
		switch f[2] {
		case "ns", "cname":
			rule, err := parseName(f[3])
			if err != nil {
				return err
			}
			rule.entry, rule.record = e, f[2]
			p.names = append(p.names, rule)
		case "a":
			pfx, err := netip.ParsePrefix(f[3])
			if err != nil {
				return err
			}
			p.ranges = append(p.ranges, rangeRule{e, pfx.Masked()})
		default:
			return fmt.Errorf("record type %q; want ns, cname or a", f[2])
		}
		return nil
	})
	return p, err
}

// readTable calls f with the tab-separated fields of each line of r that
// is not blank or a # comment, and wants n fields a line.
func readTable(r io.Reader, n int, f func(fields []string) error) error {
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Split(text, "\t")
		if len(fields) != n {
			return fmt.Errorf("line %d: want %d tab-separated fields, got %d", line, n, len(fields))
		}
		if err := f(fields); err != nil {
			return fmt.Errorf("line %d: %v", line, err)
		}
	}
	return sc.Err()
}

func parseName(pat string) (nameRule, error) {
	pat = strings.ToLower(strings.TrimSuffix(pat, "."))
	first, rest, ok := strings.Cut(pat, ".")
	_, err := path.Match(first, "")
	if !ok || rest == "" || strings.ContainsAny(rest, "*?[") || strings.ContainsAny(first, "?[\\") || err != nil {
		return nameRule{}, fmt.Errorf("pattern %q: want a host name with * only in its first label", pat)
	}
	return nameRule{first: first, rest: "." + rest}, nil
}

func (r nameRule) match(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	first, ok := strings.CutSuffix(host, r.rest)
	if !ok || first == "" || strings.Contains(first, ".") {
		return false
	}
	m, _ := path.Match(r.first, first)
	return m
}

// Observed is what DNS said of a domain.
type Observed struct {
	NS    []string     // its name servers
	CNAME string       // where its name points, if anywhere
	Addrs []netip.Addr // its addresses
}

// Match returns the evidence that a domain with these records is parked,
// or nil. Name servers and CNAMEs are stronger evidence than an address,
// and are looked at first; all matches of the first service found are
// listed.
func (p *Parking) Match(o Observed) *Evidence {
	var ev *Evidence
	add := func(e entry, fact string) {
		if ev == nil {
			ev = &Evidence{Service: e.service, Source: e.source}
		}
		if e.service == ev.Service {
			ev.Seen = append(ev.Seen, fact)
		}
	}
	for _, ns := range o.NS {
		for _, r := range p.names {
			if r.record == "ns" && r.match(ns) {
				add(r.entry, "NS "+strings.TrimSuffix(ns, "."))
				break
			}
		}
	}
	if o.CNAME != "" {
		for _, r := range p.names {
			if r.record == "cname" && r.match(o.CNAME) {
				add(r.entry, "CNAME "+strings.TrimSuffix(o.CNAME, "."))
				break
			}
		}
	}
	for _, a := range o.Addrs {
		for _, r := range p.ranges {
			if r.prefix.Contains(a.Unmap()) {
				add(r.entry, "A "+a.String())
				break
			}
		}
	}
	return ev
}

// Services returns how many services the table knows.
func (p *Parking) Services() int {
	seen := map[string]bool{}
	for _, r := range p.names {
		seen[r.service] = true
	}
	for _, r := range p.ranges {
		seen[r.service] = true
	}
	return len(seen)
}
