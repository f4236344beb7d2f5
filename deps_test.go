package mailverify

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/mailverify/mailverify"

// rule says what one package of the workspace may import: dependencies
// point one way, from verify down (the layering in doc.go), and between
// the modules from the command down: cmd/mailverify → service → diagnose →
// the library. No library package imports diagnose, the service or the
// command, and diagnose imports neither of the other two.
type rule struct {
	internal []string // module packages it may import, relative to the module root
	external []string // third-party import path prefixes it may import
	pure     bool     // no network, process or file-system packages from the standard library
}

// rules is keyed by the package path relative to the root module's path
// (the packages of the modules diagnose, service and cmd/mailverify
// included); a key ending in "/" covers every package below it. Each
// package of the workspace must have a rule, so a new package gets a
// deliberate one.
var rules = map[string]rule{
	"":                    {},
	"syntax":              {external: []string{"golang.org/x/net/idna", "golang.org/x/text/"}, pure: true},
	"syntax/internal/gen": {},
	"disposable":          {internal: []string{"syntax"}, external: []string{"golang.org/x/net/publicsuffix"}, pure: true},
	"disposable/refresh":  {internal: []string{"disposable"}},
	"freemail":            {internal: []string{"disposable"}, pure: true},
	"role":                {pure: true},
	"risk":                {pure: true},
	"feedback":            {pure: true},
	"suggest":             {internal: []string{"disposable", "freemail"}, external: []string{"golang.org/x/net/publicsuffix"}, pure: true},
	"internal/listgen":    {internal: []string{"syntax", "disposable", "role"}, external: []string{"golang.org/x/net/publicsuffix"}},
	"internal/ctxerr":     {},
	"internal/replytext":  {pure: true},
	"mx":                  {internal: []string{"syntax", "internal/ctxerr"}, external: []string{"github.com/miekg/dns", "golang.org/x/sync/"}},
	"mx/mxtest":           {internal: []string{"mx"}},
	"smtpprobe":           {internal: []string{"internal/ctxerr", "internal/replytext"}, external: []string{"golang.org/x/net/proxy"}},
	"catchall":            {internal: []string{"smtpprobe"}, external: []string{"golang.org/x/net/publicsuffix"}},
	"egress":              {internal: []string{"internal/replytext"}, external: []string{"golang.org/x/net/proxy"}},
	"internal/testsmtp":   {},
	"internal/testsocks":  {},
	"internal/golden":     {},
	"internal/testdns":    {external: []string{"github.com/miekg/dns"}},
	"integration":         {},
	"verify": {
		internal: []string{"syntax", "disposable", "freemail", "role", "suggest", "mx", "smtpprobe", "catchall", "risk", "feedback", "egress"},
		external: []string{"golang.org/x/sync/", "golang.org/x/time/rate"},
	},
	"examples/": {
		internal: []string{"verify", "risk", "syntax", "disposable", "suggest", "mx", "smtpprobe", "catchall"},
		external: []string{"golang.org/x/net/proxy"},
	},
	// Helpers of the command and the service, in the root module because
	// both use them; they bring no dependency.
	"internal/input":     {internal: []string{"internal/csvsniff"}},
	"internal/resultcsv": {internal: []string{"verify"}},
	// Reading list files as spreadsheets write them (encodings from x/text).
	"internal/csvsniff": {external: []string{"golang.org/x/text/"}, pure: true},

	// Module github.com/mailverify/mailverify/diagnose.
	"diagnose": {
		internal: []string{"syntax", "mx", "smtpprobe", "egress"},
		external: []string{"blitiri.com.ar/go/spf", "github.com/emersion/go-msgauth/", "github.com/miekg/dns"},
	},

	// Module github.com/mailverify/mailverify/service.
	"service": {
		internal: []string{"verify", "diagnose", "egress", "mx"},
		external: []string{"golang.org/x/time/rate"},
	},
	"service/internal/api": {
		internal: []string{"verify", "feedback", "smtpprobe", "diagnose", "internal/input", "internal/resultcsv", "internal/csvsniff", "service/internal/jobs", "egress", "mx"},
		external: []string{"github.com/prometheus/client_golang/", "golang.org/x/time/rate", "github.com/xuri/excelize/v2"},
	},
	"service/internal/jobs": {
		internal: []string{"verify", "catchall", "feedback", "mx", "syntax", "internal/input", "egress"},
		external: []string{"github.com/nats-io/nats-server/v2/", "github.com/nats-io/nats.go", "github.com/nats-io/nats.go/", "golang.org/x/sync/"},
	},
	"service/internal/web":       {},
	"service/internal/fakeworld": {internal: []string{"verify", "mx/mxtest", "internal/testsmtp"}},

	// Module github.com/mailverify/mailverify/cmd/mailverify: flags,
	// wiring and output over the public packages.
	"cmd/mailverify": {
		internal: []string{"verify", "syntax", "mx", "smtpprobe", "risk", "feedback", "diagnose", "service", "internal/input", "internal/resultcsv", "egress"},
		external: []string{"golang.org/x/net/proxy"},
	},
	"cmd/mailverify/internal/historydb": {internal: []string{"feedback"}, external: []string{"go.etcd.io/bbolt"}},
	"cmd/mailverify/internal/rdap":      {},
}

// impure are the standard-library packages a pure package may not import.
var impure = []string{"net", "net/http", "net/smtp", "os", "os/exec", "syscall"}

type pkg struct {
	ImportPath string
	Imports    []string
	Standard   bool
}

func ruleFor(rel string) (rule, bool) {
	if r, ok := rules[rel]; ok {
		return r, true
	}
	for k, r := range rules {
		if strings.HasSuffix(k, "/") && strings.HasPrefix(rel+"/", k) {
			return r, true
		}
	}
	return rule{}, false
}

// violations lists every import that breaks the rules.
func violations(pkgs []pkg, std func(string) bool) []string {
	var out []string
	for _, p := range pkgs {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		r, ok := ruleFor(rel)
		if !ok {
			out = append(out, p.ImportPath+": no dependency rule; add one to deps_test.go")
			continue
		}
		for _, imp := range p.Imports {
			switch {
			case imp == module || strings.HasPrefix(imp, module+"/"):
				dep := strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
				if strings.HasPrefix(dep, rel+"/") { // its own sub-packages
					continue
				}
				if !slices.Contains(r.internal, dep) {
					out = append(out, p.ImportPath+" must not import "+imp)
				}
			case std(imp):
				if r.pure && slices.Contains(impure, imp) {
					out = append(out, p.ImportPath+" is pure and must not import "+imp)
				}
			default:
				if !slices.ContainsFunc(r.external, func(pre string) bool {
					return imp == strings.TrimSuffix(pre, "/") || strings.HasPrefix(imp, pre) && strings.HasSuffix(pre, "/")
				}) {
					out = append(out, p.ImportPath+" must not import "+imp)
				}
			}
		}
	}
	return out
}

func TestDependencyDirection(t *testing.T) {
	// "work" is every package of every module of go.work; GOWORK names it
	// even where the environment turned the workspace off.
	work, err := filepath.Abs("go.work")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-json", "work")
	cmd.Env = append(cmd.Environ(), "GOWORK="+work)
	outp, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(outp)))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 2 {
		t.Fatalf("go list found %d packages; expected the whole workspace", len(pkgs))
	}
	for _, want := range []string{module + "/verify", module + "/diagnose", module + "/service", module + "/cmd/mailverify"} {
		if !slices.ContainsFunc(pkgs, func(p pkg) bool { return p.ImportPath == want }) {
			t.Errorf("go list work did not list %s", want)
		}
	}
	std := func(path string) bool {
		first, _, _ := strings.Cut(path, "/")
		return !strings.Contains(first, ".")
	}
	for _, v := range violations(pkgs, std) {
		t.Error(v)
	}
}

// TestViolationsCatches proves the checker fails on the imports it bans.
func TestViolationsCatches(t *testing.T) {
	std := func(path string) bool { return !strings.Contains(path, ".") }
	bad := []pkg{
		{ImportPath: module + "/syntax", Imports: []string{"net", "golang.org/x/text/unicode/norm"}},
		{ImportPath: module + "/mx", Imports: []string{module + "/smtpprobe", "github.com/miekg/dns"}},
		{ImportPath: module + "/smtpprobe", Imports: []string{"github.com/emersion/go-smtp"}},
		{ImportPath: module + "/newpkg"},
		{ImportPath: module + "/examples/signup", Imports: []string{module + "/internal/testsmtp"}},
		{ImportPath: module + "/verify", Imports: []string{module + "/diagnose"}},
		{ImportPath: module + "/diagnose", Imports: []string{module + "/service", "github.com/nats-io/nats.go"}},
		{ImportPath: module + "/service", Imports: []string{module + "/cmd/mailverify/internal/historydb"}},
	}
	got := violations(bad, std)
	want := []string{
		module + "/syntax is pure and must not import net",
		module + "/mx must not import " + module + "/smtpprobe",
		module + "/smtpprobe must not import github.com/emersion/go-smtp",
		module + "/newpkg: no dependency rule; add one to deps_test.go",
		module + "/examples/signup must not import " + module + "/internal/testsmtp",
		module + "/verify must not import " + module + "/diagnose",
		module + "/diagnose must not import " + module + "/service",
		module + "/diagnose must not import github.com/nats-io/nats.go",
		module + "/service must not import " + module + "/cmd/mailverify/internal/historydb",
	}
	if !slices.Equal(got, want) {
		t.Errorf("violations:\n got %q\nwant %q", got, want)
	}
	good := []pkg{
		{ImportPath: module + "/verify", Imports: []string{module + "/mx", module + "/syntax", "context", "golang.org/x/sync/errgroup"}},
		{ImportPath: module + "/syntax", Imports: []string{"net/netip", "golang.org/x/net/idna"}},
		{ImportPath: module + "/service", Imports: []string{module + "/service/internal/api", module + "/diagnose", module + "/verify"}},
		{ImportPath: module + "/service/internal/jobs", Imports: []string{"github.com/nats-io/nats.go/jetstream"}},
	}
	if v := violations(good, std); len(v) != 0 {
		t.Errorf("allowed imports reported: %q", v)
	}
}

// coreModules are the only modules a program that imports this module may
// get in its module graph. diagnose, the service and the command live in
// modules of their own (diagnose, service, cmd/mailverify) so that the SPF
// and DMARC libraries, NATS, Prometheus, bbolt and a browser driver never
// reach a library user's go.mod.
var coreModules = []string{
	module, "github.com/miekg/dns", "golang.org/x/crypto", "golang.org/x/mod", "golang.org/x/net",
	"golang.org/x/sync", "golang.org/x/sys", "golang.org/x/term", "golang.org/x/text",
	"golang.org/x/time", "golang.org/x/tools",
}

func TestModuleGraphIsSmall(t *testing.T) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Path}}", "all")
	cmd.Env = append(cmd.Environ(), "GOWORK=off") // the module as its importers see it
	outp, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -m all: %v", err)
	}
	mods := strings.Fields(string(outp))
	if len(mods) < 2 || mods[0] != module {
		t.Fatalf("go list -m all = %q; want this module first", mods)
	}
	for _, m := range mods {
		if !slices.Contains(coreModules, m) {
			t.Errorf("module graph of %s has %s; the core keeps its small dependency set (move the code that needs it to a module of its own)", module, m)
		}
	}
}

// TestDiagnoseModuleGraph keeps the service's dependencies out of an
// importer of diagnose: the library's modules and the SPF and DMARC
// libraries (with what they need) only.
func TestDiagnoseModuleGraph(t *testing.T) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Path}}", "all")
	cmd.Dir = "diagnose"
	cmd.Env = append(cmd.Environ(), "GOWORK=off")
	outp, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -m all in diagnose: %v", err)
	}
	allowed := append([]string{module + "/diagnose", "blitiri.com.ar/go/spf", "github.com/emersion/go-msgauth",
		"github.com/emersion/go-message", "github.com/emersion/go-milter", "gopkg.in/yaml.v3"}, coreModules...)
	for _, m := range strings.Fields(string(outp)) {
		if !slices.Contains(allowed, m) {
			t.Errorf("module graph of %s/diagnose has %s; the service's dependencies stay in module service", module, m)
		}
	}
}
