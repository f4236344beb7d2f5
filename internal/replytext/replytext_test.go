package replytext

import (
	"strings"
	"testing"
)

func TestProse(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"550 5.1.1 <Jo@MarbleWorks.com>: Recipient address rejected: User unknown",
			"550 5.1.1 <address>: recipient address rejected: user unknown"},
		{"550 jo@marbleworks.com... User unknown", "550 <address>... user unknown"},
		{"553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)",
			"553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)"},
		{"554 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
			"554 service unavailable; client host [192.0.2.1] blocked using zen.spamhaus.org"},
		{"451 <ip> is not yet authorized to deliver mail from <a@b.example> to <c@d.example>. Please try later.",
			"451 <ip> is not yet authorized to deliver mail from <address> to <address>. please try later."},
		{"mail to delist@messaging.microsoft.com. For more", "mail to <address>. for more"},
		{"(jo@rbl.example)", "(<address>)"},
		{"an @ alone", "an <address> alone"},
		{"<unclosed@x", "<<address>"},
		{"", ""},
	} {
		if got := Prose(c.in); got != c.want {
			t.Errorf("Prose(%q)\n = %q\nwant %q", c.in, got, c.want)
		}
	}
}

// Whatever an address holds, nothing of it survives.
func FuzzProse(f *testing.F) {
	f.Add("550 5.1.1 <jo@rbl.example>: user unknown", "rbl")
	f.Fuzz(func(t *testing.T, prefix, local string) {
		if strings.ContainsAny(local, " \t\r\n<>()[]{}\"',;@") || local == "" {
			return
		}
		marker := "zqxmarker"
		got := Prose(prefix + " <" + local + marker + "@" + marker + ".example> after")
		if strings.Contains(got, marker) {
			t.Fatalf("Prose kept part of the address: %q", got)
		}
	})
}
