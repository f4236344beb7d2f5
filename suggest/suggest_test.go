package suggest

import "testing"

// typos are real slips on popular domains, with the domain meant.
var typos = map[string]string{
	"gmial.com": "gmail.com", "gmai.com": "gmail.com", "gmaill.com": "gmail.com", "gamil.com": "gmail.com",
	"gnail.com": "gmail.com", "gmail.con": "gmail.com", "gmail.cmo": "gmail.com", "gmail.co": "gmail.com",
	"gmail.cm": "gmail.com", "gmal.com": "gmail.com", "gmaik.com": "gmail.com", "gmsil.com": "gmail.com",
	"GMIAL.COM": "gmail.com", "gmail.com.": "", "gmail.ocm": "gmail.com", "gmial.con": "gmail.com",
	"hotmial.com": "hotmail.com", "hotmal.com": "hotmail.com", "hotmai.com": "hotmail.com",
	"hotmail.con": "hotmail.com", "hotamil.com": "hotmail.com", "hotmaill.com": "hotmail.com",
	"homail.com": "hotmail.com", "hotmail.co": "hotmail.com",
	"yaho.com": "yahoo.com", "yahooo.com": "yahoo.com", "yhoo.com": "yahoo.com", "yahoo.con": "yahoo.com",
	"yaoo.com": "yahoo.com", "yahho.com": "yahoo.com", "yahoo.co": "yahoo.com",
	"outlok.com": "outlook.com", "outllok.com": "outlook.com", "outloo.com": "outlook.com",
	"outlook.con": "outlook.com", "otlook.com": "outlook.com", "outlool.com": "outlook.com",
	"icloud.con": "icloud.com", "iclod.com": "icloud.com", "icloud.cm": "icloud.com", "icoud.com": "icloud.com",
	"aol.con": "aol.com", "aol.cmo": "aol.com", "live.con": "live.com", "msn.cmo": "msn.com",
	"comcast.nte": "comcast.net", "comcats.net": "comcast.net", "verizon.ent": "verizon.net",
	"protonmial.com": "protonmail.com", "protonmail.con": "protonmail.com", "sbcgloabl.net": "sbcglobal.net",
	"googlemial.com": "googlemail.com", "outlook.cpm": "outlook.com", "yandex.ri": "",
}

// legitimate domains must get no suggestion: providers in their own right,
// companies, and domains merely near a popular one.
var legitimate = []string{
	"gmail.com", "email.com", "mail.com", "acme.co", "acme.com", "gmx.com", "gmx.de", "gmx.at",
	"hotmail.fr", "hotmail.de", "yahoo.co.jp", "yahoo.co.uk", "yahoo.de", "outlook.de", "live.com",
	"me.com", "mac.com", "aim.com", "icloud.com", "aol.com", "protonmail.com", "proton.me", "pm.me",
	"fastmail.com", "hey.com", "zoho.com", "mailbox.org", "posteo.de", "web.de", "t-online.de",
	"qq.com", "163.com", "126.com", "naver.com", "yandex.ru", "ya.ru", "ymail.com", "rocketmail.com",
	"google.com", "github.com", "microsoft.com", "apple.com", "amazon.com", "stripe.com",
	"hotmart.com", "gmail.co.uk", "outlook.es", "gmail.ru", "mail.gmial.com", "university.edu",
	"example.org", "mailverify.dev", "sky.com", "wp.pl", "o2.pl", "att.net", "cox.net",
	"bücher.de", "", "com", "co.uk",
}

func TestDomainCorrectsTypos(t *testing.T) {
	t.Parallel()
	n := 0
	for typo, want := range typos {
		if want != "" {
			n++
		}
		if got := Domain(typo); got != want {
			t.Errorf("Domain(%q) = %q, want %q", typo, got, want)
		}
	}
	if n < 40 {
		t.Errorf("only %d typo cases", n)
	}
}

func TestDomainLeavesLegitimateDomains(t *testing.T) {
	t.Parallel()
	if len(legitimate) < 40 {
		t.Errorf("only %d legitimate cases", len(legitimate))
	}
	for _, d := range legitimate {
		if got := Domain(d); got != "" {
			t.Errorf("Domain(%q) = %q, want no suggestion", d, got)
		}
	}
}

// TestNeverSuggestsForKnownProviders checks the rule over the whole
// target list: no popular domain is "corrected" to another.
func TestNeverSuggestsForKnownProviders(t *testing.T) {
	t.Parallel()
	for _, d := range popular {
		if got := Domain(d); got != "" {
			t.Errorf("Domain(%q) = %q", d, got)
		}
	}
}

func TestDistance(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"gmail", "gmail", 0}, {"gmial", "gmail", 2}, {"gnail", "gmail", 1}, {"gmal", "gmail", 2},
		{"gmaill", "gmail", 2}, {"email", "gmail", 2}, {"hotmart", "hotmail", 3}, {"abc", "xyz", 3},
		{"", "gmail", 3},
	} {
		if got := distance(c.a, c.b, 2); got != c.want {
			t.Errorf("distance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	for range 100 {
		if Domain("gmial.com") != "gmail.com" || Domain("yhoo.com") != "yahoo.com" {
			t.Fatal("suggestions changed between calls")
		}
	}
}

// BenchmarkDomain measures one suggestion; the bound is 10 µs per call.
//
//	go test -run '^$' -bench . -benchmem ./suggest
func BenchmarkDomain(b *testing.B) {
	Domain("warm.up") // build the embedded lists outside the timing
	for _, in := range []string{"gmial.com", "gmail.com", "acme-corp.example", "hotmail.con"} {
		b.Run(in, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Domain(in)
			}
		})
	}
}
