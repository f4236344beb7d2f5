// Package suggest proposes the domain a user probably meant when the one
// typed looks like a slip on a popular mail domain: gmial.com → gmail.com,
// hotmail.con → hotmail.com. It returns nothing rather than a guess: a
// domain that is itself a known mail provider never gets a suggestion,
// and top-level domains are corrected only from an explicit map, so
// email.com, acme.co and hotmail.fr stay as they are (the defaults of
// mailcheck.js "correct" all three).
package suggest

import (
	"strings"

	"github.com/mailverify/mailverify/disposable"
	"github.com/mailverify/mailverify/freemail"
	"golang.org/x/net/publicsuffix"
)

// popular are the domains suggestions point to, most used first; ties go
// to the earlier one.
var popular = []string{
	"gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "aol.com",
	"live.com", "msn.com", "comcast.net", "googlemail.com", "ymail.com", "me.com",
	"mac.com", "protonmail.com", "proton.me", "gmx.com", "gmx.de", "gmx.net", "web.de",
	"mail.com", "zoho.com", "yandex.ru", "yandex.com", "mail.ru", "qq.com", "163.com",
	"126.com", "naver.com", "hanmail.net", "daum.net", "sbcglobal.net", "att.net",
	"verizon.net", "bellsouth.net", "cox.net", "charter.net", "earthlink.net",
	"optonline.net", "btinternet.com", "sky.com", "orange.fr", "free.fr", "laposte.net",
	"wanadoo.fr", "libero.it", "t-online.de", "freenet.de", "hotmail.co.uk", "hotmail.fr",
	"yahoo.co.uk", "yahoo.fr", "live.co.uk", "rocketmail.com", "fastmail.com",
	"tutanota.com", "bigpond.com", "rediffmail.com", "uol.com.br", "bol.com.br",
	"seznam.cz", "wp.pl", "interia.pl", "rambler.ru", "ukr.net",
}

// tldTypos fixes top-level domains that are not real TLDs. Only these are
// ever corrected on their own: .co, .cm and .om are real TLDs.
var tldTypos = map[string]string{
	"con": "com", "cmo": "com", "ocm": "com", "vom": "com", "xom": "com", "cpm": "com",
	"comm": "com", "coom": "com", "cim": "com", "copm": "com", "cmm": "com", "clm": "com",
	"nte": "net", "ent": "net", "nett": "net", "ner": "net", "bet": "net",
	"orgg": "org", "ogr": "org", "prg": "org",
}

// providerTLDTypos are corrected only when the rest of the domain is
// exactly a popular provider's name (gmail.co → gmail.com): a real TLD,
// but no mail domain of that provider.
var providerTLDTypos = map[string]string{
	"co": "com", "cm": "com", "om": "com", "cpm": "com", "c": "com", "ccom": "com", "comn": "com",
	"ne": "net", "nt": "net",
}

type target struct {
	domain, name, tld string
}

var targets = func() []target {
	out := make([]target, len(popular))
	for i, d := range popular {
		name, tld, _ := strings.Cut(d, ".")
		out[i] = target{d, name, tld}
	}
	return out
}()

// minFuzzyName is the shortest provider name matched approximately: a slip
// on "aol" or "qq" is as likely another real domain.
const minFuzzyName = 4

// maxCost is the largest edit cost accepted, in half edits: one ordinary
// edit, or two slips onto adjacent keys.
const maxCost = 2

// Domain returns the domain the user probably meant, or "" when the domain
// looks right or no suggestion is safe. The input may be in any case, with
// or without a trailing dot; the result is lower case. Domain is
// deterministic and safe for concurrent use.
func Domain(domain string) string {
	d := strings.ToLower(strings.TrimSuffix(domain, "."))
	if d == "" || len(d) > 64 || !isASCII(d) || known(d) {
		return ""
	}
	suffix, _ := publicsuffix.PublicSuffix(d)
	if len(suffix) >= len(d) || strings.Contains(d[:len(d)-len(suffix)-1], ".") {
		return "" // a bare suffix, or a subdomain: leave it alone
	}
	name := d[:len(d)-len(suffix)-1]

	fixedTLD, tldFixed := tldTypos[suffix]
	best, bestCost := "", maxCost+1
	for _, t := range targets {
		tldOK := suffix == t.tld || tldFixed && fixedTLD == t.tld
		if !tldOK {
			if name == t.name && providerTLDTypos[suffix] == t.tld {
				return t.domain
			}
			continue
		}
		var cost int
		switch {
		case name == t.name:
			cost = 0
		case len(t.name) < minFuzzyName:
			continue
		default:
			cost = distance(name, t.name, maxCost)
		}
		if cost < bestCost {
			best, bestCost = t.domain, cost
		}
	}
	if best == d {
		return ""
	}
	return best
}

// known reports whether d is a mail domain in its own right.
func known(d string) bool {
	for _, p := range popular {
		if p == d {
			return true
		}
	}
	return freemail.Contains(d) || disposable.Legit().Contains(d)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
