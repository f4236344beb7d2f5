package syntax

import (
	"fmt"
	"net/mail"
	"strings"
	"testing"
)

// benchInputs are the input classes of the benchmarks. Each runs through
// Default.Parse and, as the baseline in the same run, net/mail.ParseAddress.
var benchInputs = []struct {
	name, in string
}{
	{"ASCIIValid", "john.doe@example.com"},
	{"ASCIIValidLong", "firstname.lastname+newsletter@mail.subdomain.example.co.uk"},
	{"ASCIIMixedCase", "John.Doe@Example.COM"},
	{"ASCIIInvalidDots", "john..doe@example.com"},
	{"ASCIIInvalidSpecialUse", "john.doe@example.test"},
	{"IDNDomain", "jane@b\u00fccher.de"},
	{"IDNALabel", "jane@xn--bcher-kva.de"},
	{"UTF8Local", "j\u00f6rg.m\u00fcller@example.com"},
	{"UTF8LocalCJK", "\u7528\u6237@\u4f8b\u5b50.\u5e7f\u544a"},
}

func BenchmarkParse(b *testing.B) {
	for _, in := range benchInputs {
		b.Run(in.name+"/syntax", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Parse(in.in)
			}
		})
		b.Run(in.name+"/netmail", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				mail.ParseAddress(in.in)
			}
		})
	}
}

// BenchmarkParseScaling grows one dimension of the input to catch
// super-linear work on hostile input: long local parts, many labels,
// many quoted pairs. ns/op should grow at most linearly in n.
func BenchmarkParseScaling(b *testing.B) {
	for _, n := range []int{10, 100, 1000, 10000} {
		for _, c := range []struct {
			name string
			p    Policy
			in   string
		}{
			{"LongLocal", Default, strings.Repeat("a", n) + "@example.com"},
			{"LongUTF8Local", Default, strings.Repeat("\u00e9", n) + "@example.com"},
			{"ManyLabels", Default, "a@" + strings.Repeat("a.", n) + "com"},
			{"ManyIDNLabels", Default, "a@" + strings.Repeat("\u00fc.", n) + "de"},
			{"QuotedPairs", Strict, "\"" + strings.Repeat("\\\"", n) + "\"@example.com"},
			{"NetMailLongLocal", Policy{}, strings.Repeat("a", n) + "@example.com"},
		} {
			b.Run(fmt.Sprintf("%s/n=%d", c.name, n), func(b *testing.B) {
				b.ReportAllocs()
				if strings.HasPrefix(c.name, "NetMail") {
					for b.Loop() {
						mail.ParseAddress(c.in)
					}
					return
				}
				for b.Loop() {
					c.p.Parse(c.in)
				}
			})
		}
	}
}

// mixInputs are ordinary addresses as a signup form or a list sees them,
// one of each kind: plain, dotted, +tag, an apostrophe, an A-label domain,
// long subdomains.
var mixInputs = []string{
	"jane@example.com",
	"john.doe@example.org",
	"jane.doe+newsletter@gmail.com",
	"o'connor@example.ie",
	"anna@xn--bcher-kva.de",
	"first.last@mail.eng.corp.example.co.uk",
}

// BenchmarkParseMix runs the mix through Parse and, as the baseline in the
// same run, net/mail.ParseAddress.
//
//	go test -run '^$' -bench 'BenchmarkParseMix' -benchmem ./syntax
func BenchmarkParseMix(b *testing.B) {
	b.Run("syntax", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := Parse(mixInputs[i%len(mixInputs)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("netmail", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := mail.ParseAddress(mixInputs[i%len(mixInputs)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
