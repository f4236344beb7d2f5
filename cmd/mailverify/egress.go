package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/verify"
)

// egressFlags are the egress pool's flags: --egress (repeatable),
// --egress-file and --profiles. --socks5, --helo and --from stay
// shorthands: --socks5 H:P is --egress socks5://H:P, and --helo/--from
// are every egress's identity unless its line gives its own.
type egressFlags struct {
	list     []string
	file     string
	profiles string
	state    egressState // --egress-state, the command line's only (egressstate.go)
}

func (f *egressFlags) register(fs *flag.FlagSet) {
	f.registerPool(fs)
	fs.StringVar(&f.profiles, "profiles", "", "a provider profiles `file` (budgets per egress and provider) instead of the embedded table")
}

// registerPool registers the flags that name the pool: --egress and
// --egress-file (doctor checks the pool, it spends no budget).
func (f *egressFlags) registerPool(fs *flag.FlagSet) {
	fs.Func("egress", "probe from this egress: a local source `address` (192.0.2.10) or socks5://[user:pass@]host[:port]; repeat for a pool", func(s string) error {
		f.list = append(f.list, s)
		return nil
	})
	fs.StringVar(&f.file, "egress-file", "", "read egresses from `file`: one a line, the --egress form then name= helo= from= providers=a,b source=")
}

// egresses parses the pool the flags describe; empty when none was given.
func (f *egressFlags) egresses(socks5 string) ([]egress.Egress, error) {
	var out []egress.Egress
	for _, s := range f.list {
		e, err := egress.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("--egress %s: %v", s, err)
		}
		out = append(out, e)
	}
	if f.file != "" {
		file, err := os.Open(f.file)
		if err != nil {
			return nil, err
		}
		defer file.Close()
		es, err := egress.ParseFile(file)
		if err != nil {
			return nil, fmt.Errorf("--egress-file %s: %v", f.file, err)
		}
		out = append(out, es...)
	}
	if len(out) > 0 && socks5 != "" {
		e, err := egress.Parse("socks5://" + socks5)
		if err != nil {
			return nil, fmt.Errorf("--socks5 %s: %v", socks5, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// apply gives v the pool, the profiles and the reports on stderr: each
// state change as it happens, and port 25 found closed, once.
func (f *egressFlags) apply(v *verify.Verifier, socks5 string, stderr io.Writer) error {
	es, err := f.egresses(socks5)
	if err != nil {
		return err
	}
	if len(es) > 0 {
		v.Egresses, v.Dialer = es, nil
	}
	if f.profiles != "" {
		file, err := os.Open(f.profiles)
		if err != nil {
			return err
		}
		defer file.Close()
		if v.Profiles, err = egress.ParseProfiles(file); err != nil {
			return fmt.Errorf("--profiles %s: %v", f.profiles, err)
		}
	}
	var mu sync.Mutex
	v.OnEgressEvent = func(ev egress.EgressEvent) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintln(stderr, "mailverify: "+describeEvent(ev))
	}
	v.OnPort25Blocked = func(pe *egress.Port25Error) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stderr, "mailverify: %v; its addresses end unknown/connection_failed\n", pe)
	}
	return v.Validate()
}

// describeEvent is one line about a state change.
func describeEvent(ev egress.EgressEvent) string {
	var b strings.Builder
	fmt.Fprintf(&b, "egress %s, %s: %s -> %s", ev.Egress, ev.Provider, ev.From, ev.To)
	if !ev.Until.IsZero() {
		fmt.Fprintf(&b, " until %s", ev.Until.UTC().Format(time.TimeOnly+" MST"))
	}
	if e := ev.Evidence; e != nil {
		if e.Reply.Code != 0 {
			fmt.Fprintf(&b, " (%s: %s)", e.Host, e.Reply)
		}
		if e.Finding.Advice != "" {
			fmt.Fprintf(&b, "; %s", e.Finding.Advice)
		}
	}
	return b.String()
}

// summary writes, when a pool was given, a line per egress: per provider
// whose servers replied about it, its state and budget use.
func summary(w io.Writer, v *verify.Verifier) {
	defer dnsSummary(w, v) // and the run's DNS counts, after them
	st, err := v.EgressStatus()
	if err != nil {
		fmt.Fprintf(w, "mailverify: egress summary: %v\n", err)
		return
	}
	for _, es := range st {
		if len(es.Pairs) == 0 {
			fmt.Fprintf(w, "mailverify: egress %s: healthy, no reply about it\n", es.What) // What starts with the ID
			continue
		}
		for _, p := range es.Pairs {
			fmt.Fprintf(w, "mailverify: egress %s, %s: %s; RCPTs %d this minute, %d this hour, %d today\n",
				es.What, p.Key.Provider, p.State, p.Used.Minute, p.Used.Hour, p.Used.Day)
		}
	}
}

// declared says which egresses a worker declares to the cluster, one
// line each, with the providers each is pinned to.
func declared(es []egress.Egress) []string {
	if len(es) == 0 {
		return []string{"declares no egress: probes directly and may serve every provider"}
	}
	out := make([]string, len(es))
	for i := range es {
		out[i] = "declares egress " + es[i].String()
		if len(es[i].Providers) > 0 {
			out[i] += " for " + strings.Join(es[i].Providers, ", ")
		}
	}
	return out
}
