package main

import (
	"slices"
	"testing"
)

func TestExtractors(t *testing.T) {
	t.Parallel()
	got, err := between("new Set([", "])")([]byte(`x = new Set(["a.com",'b.com', "c.org"]); y = ["no.com"]`))
	if err != nil || !slices.Equal(got, []string{"a.com", "b.com", "c.org"}) {
		t.Errorf("between = %q, %v", got, err)
	}
	if _, err := between("const X = [", "]")([]byte("nothing")); err == nil {
		t.Error("missing marker not reported")
	}
	got, _ = lines([]byte("# c\n a.com \n\nb.com\n"))
	if !slices.Equal(got, []string{"a.com", "b.com"}) {
		t.Errorf("lines = %q", got)
	}
	got, err = fakefilterDomains([]byte(`{"version":1,"domains":{"x.com":{"provider":"p"},"y.net":{}}}`))
	slices.Sort(got)
	if err != nil || !slices.Equal(got, []string{"x.com", "y.net"}) {
		t.Errorf("fakefilter = %q, %v", got, err)
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Mailinator.COM.": "mailinator.com",
		"@temp.org":       "temp.org",
		"*.wild.net":      "wild.net",
		".dot.io":         "dot.io",
		"bücher.de":       "xn--bcher-kva.de",
		"nodot":           "",
		"com":             "",
		"co.uk":           "", // a public suffix
		"3utilities.com":  "", // a private public suffix
		"bad_name.com":    "",
		"521.gmail.com":   "521.gmail.com", // kept as is, never collapsed
	} {
		if got := normalize(in); got != want {
			t.Errorf("normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBuildDisposable(t *testing.T) {
	t.Parallel()
	got, _ := buildDisposable(
		[]string{"temp.com", "x.temp.com", "gmail.com", "521.gmail.com", "duck.com", "alias.duck.com", "0.mail.example.id", "other.org"},
		[]string{"gmail.com"}, []string{"duck.com"})
	if want := []string{"0.mail.example.id", "other.org", "temp.com"}; !slices.Equal(got, want) {
		t.Errorf("buildDisposable = %q, want %q", got, want)
	}
	free := buildFree([]string{"gmail.com", "temp.com", "isp.net", "duck.com", "gmial.com"}, []string{"proton.me"}, got, []string{"duck.com"}, []string{"gmial.com"})
	if want := []string{"gmail.com", "isp.net", "proton.me"}; !slices.Equal(free, want) {
		t.Errorf("buildFree = %q, want %q", free, want)
	}
	roles := buildRoles([]string{"Info", "no-reply", "dean", "sales_team"})
	if want := []string{"abuse", "bounce", "bounces", "donotreply", "hostmaster", "info", "mailerdaemon", "noreply", "postmaster", "salesteam"}; !slices.Equal(roles, want) {
		t.Errorf("buildRoles = %q, want %q", roles, want)
	}
}
