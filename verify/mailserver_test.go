package verify

import (
	"context"
	"net"
	"testing"
)

func TestMailServer(t *testing.T) {
	w := standardWorld()
	defer w.router.close()
	v := w.verifier()
	ctx := context.Background()
	for addr, want := range map[string]string{
		"jane@example.com":      "127.0.1.1:25",
		"Jane@EXAMPLE.com":      "127.0.1.1:25",
		"x@catchall.com":        "127.0.1.2:25",
		"not an address":        "",
		"jane@[127.0.0.1]":      "",
		"a@nullmx.com":          "",
		"a@servfail.com":        "",
		"a@nowhere.example.org": "",
	} {
		if got := v.MailServer(ctx, addr); got != want {
			t.Errorf("MailServer(%q) = %q; want %q", addr, got, want)
		}
	}
	before := w.res.Queries("MX", "example.com")
	v.MailServer(ctx, "other@example.com")
	if _, err := v.Verify(ctx, "jane@example.com"); err != nil {
		t.Fatal(err)
	}
	if q := w.res.Queries("MX", "example.com"); q != before {
		t.Errorf("MailServer and Verify of a domain already looked up asked DNS %d more times; want the cache", q-before)
	}
	guarded := w.verifier()
	guarded.AllowPrivate = false
	if got := guarded.MailServer(ctx, "a@private.com"); got != "" {
		t.Errorf("MailServer of a domain whose only MX is private = %q; want none (the SSRF guard)", got)
	}
	off := &Verifier{Offline: true}
	if got := off.MailServer(ctx, "jane@example.com"); got != "" {
		t.Errorf("an Offline Verifier's MailServer = %q; want none", got)
	}
}

// TestMailServerHostIsStable: a domain whose equal-preference MX hosts
// are a provider's and another's gets one answer on every call, the
// provider's host, though the lookup shuffles equal preferences (the
// service routes a domain's addresses by it: two answers split a domain
// between a provider's partition and a plain server's).
func TestMailServerHostIsStable(t *testing.T) {
	w := newWorld()
	defer w.router.close()
	w.add("mixed.com", nil)
	w.add("other.com", nil)
	w.res.MX["mixed.com"] = []*net.MX{{Host: "mx.other.com", Pref: 10}, {Host: "aspmx.l.google.com", Pref: 10}}
	w.res.IP["aspmx.l.google.com"] = w.res.IP["mx.mixed.com"]
	v := w.verifier()
	seen := map[string]int{}
	for range 40 {
		_, host := v.MailServerHost(t.Context(), "jane@mixed.com")
		seen[host]++
	}
	if len(seen) != 1 || seen["aspmx.l.google.com"] != 40 {
		t.Errorf("MailServerHost over 40 calls: %v; want aspmx.l.google.com every time", seen)
	}
}
