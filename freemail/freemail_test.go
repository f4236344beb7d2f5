package freemail

import (
	"strings"
	"testing"

	"github.com/mailverify/mailverify/disposable"
)

func TestContains(t *testing.T) {
	t.Parallel()
	for d, want := range map[string]bool{
		"gmail.com":      true,
		"GMAIL.COM":      true,
		"outlook.com":    true,
		"hotmail.co.uk":  true,
		"yahoo.co.jp":    true,
		"gmx.de":         true,
		"web.de":         true,
		"proton.me":      true,
		"naver.com":      true,
		"qq.com":         true,
		"comcast.net":    true,
		"acme-corp.com":  false,
		"mailverify.dev": false,
		"example.com":    false,
		"mailinator.com": false, // disposable, not free
		"duck.com":       false, // a relay
		"gmial.com":      false, // a typo domain
		"university.edu": false,
	} {
		if got := Contains(d); got != want {
			t.Errorf("Contains(%q) = %v, want %v", d, got, want)
		}
	}
}

func TestListIsClean(t *testing.T) {
	t.Parallel()
	s := Default()
	if s.Len() < 3000 {
		t.Fatalf("%d entries", s.Len())
	}
	for d := range s.All() {
		if disposable.Default().Contains(d) {
			t.Errorf("%s is both free and disposable", d)
		}
		if disposable.Relays().Contains(d) {
			t.Errorf("%s is a relay", d)
		}
	}
	for d := range disposable.Legit().All() {
		if !s.Contains(d) {
			t.Errorf("legitimate provider %s is not in the free list", d)
		}
	}
	if !strings.Contains(Provenance, "freemail@1.7.0") {
		t.Errorf("Provenance = %q", Provenance)
	}
}
