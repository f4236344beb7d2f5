package egress

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// ParseFile reads an egress file: one egress per line, its short form (as
// Parse takes it) first, then optional key=value fields separated by
// blanks. Blank lines and lines starting with # are skipped; a # after a
// blank starts a comment. The keys:
//
//	name=ID            the egress's name (default: see Egress.ID)
//	helo=NAME          its HELO/EHLO name
//	from=ADDRESS       its MAIL FROM address (from=<> for the null sender)
//	providers=A,B,...  pins it to these providers ("*": and all unpinned)
//	source=IP          for a proxy: the local address the proxy is reached from
//
// For example:
//
//	# Microsoft gets two addresses of its own; everyone else the rest.
//	192.0.2.10 name=ms-a helo=mx-a.example.net providers=microsoft365,outlook
//	192.0.2.11 name=ms-b helo=mx-b.example.net providers=microsoft365,outlook
//	192.0.2.12 helo=mx-c.example.net
//	socks5://u:p@proxy.example:1080 helo=proxy.example from=verify@example.net
//
// The line format, rather than JSON, keeps the file the same words as the
// --egress flag, lets an operator comment and grep it, and gives each
// error a line number; none of its values (addresses, host names, URLs,
// provider names) contains a blank, so no quoting is needed.
//
// Every problem is a *ParseError with its line number; names must be
// unique, since health and budgets are kept by name.
func ParseFile(r io.Reader) ([]Egress, error) {
	var out []Egress
	seen := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		for i := 1; i < len(line); i++ {
			if line[i] == '#' && (line[i-1] == ' ' || line[i-1] == '\t') {
				line = line[:i]
				break
			}
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e, err := parseLine(line)
		if err != nil {
			if pe, ok := err.(*ParseError); ok {
				pe.Line = n
				return nil, pe
			}
			return nil, &ParseError{Line: n, Input: redact(line), Err: err}
		}
		if first, dup := seen[e.ID()]; dup {
			return nil, &ParseError{Line: n, Input: e.ID(), Err: fmt.Errorf("%w (first on line %d)", ErrDuplicate, first)}
		}
		seen[e.ID()] = n
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("egress file: %w", err)
	}
	return out, nil
}

func parseLine(line string) (Egress, error) {
	fields := strings.Fields(line)
	e, err := Parse(fields[0])
	if err != nil {
		return Egress{}, err
	}
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(f, "=")
		if !ok || v == "" {
			return Egress{}, fmt.Errorf("%w: %q is not key=value", ErrField, f)
		}
		switch k {
		case "name":
			if strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:") != "" {
				return Egress{}, fmt.Errorf("%w: name=%q: use letters, digits, dots, dashes, underscores and colons", ErrField, v)
			}
			e.Name = v
		case "helo":
			if strings.ContainsAny(v, "<>@") {
				return Egress{}, fmt.Errorf("%w: helo=%q is not a host name", ErrField, v)
			}
			e.HELO = v
		case "from":
			v = strings.TrimSuffix(strings.TrimPrefix(v, "<"), ">")
			if v != "" && !strings.Contains(v, "@") {
				return Egress{}, fmt.Errorf("%w: from=%q is not an address", ErrField, v)
			}
			e.MailFrom = v
		case "providers":
			for p := range strings.SplitSeq(v, ",") {
				if p == "" {
					return Egress{}, fmt.Errorf("%w: providers=%q has an empty name", ErrField, v)
				}
				e.Providers = append(e.Providers, strings.ToLower(p))
			}
		case "source":
			if e.Proxy == nil {
				return Egress{}, fmt.Errorf("%w: source= is for a proxy egress; a bare address is its own source", ErrField)
			}
			a, err := parseSource(v)
			if err != nil {
				return Egress{}, err
			}
			e.Source = a
		default:
			return Egress{}, fmt.Errorf("%w: unknown key %q (want name, helo, from, providers, source)", ErrField, k)
		}
	}
	return e, nil
}
