// Package replytext prepares an SMTP reply's text for matching against
// the classifiers' word lists (smtpprobe's and egress's).
package replytext

import "strings"

// Prose returns text in lower case with every address taken out: a span
// in angle brackets that holds an "@", and a bare word that holds one,
// each become "<address>". Servers quote the recipient and our sender in
// their replies ("550 5.1.1 <jo@marbleworks.com>: ... User unknown"), and
// an address is the user's data: words in it ("rbl" in marbleworks,
// "banned" in bannedbooks@) must never change what the reply means.
func Prose(text string) string {
	t := strings.ToLower(text)
	if !strings.Contains(t, "@") {
		return t
	}
	var b strings.Builder
	b.Grow(len(t))
	for len(t) > 0 {
		i := strings.IndexAny(t, "<@")
		if i < 0 {
			b.WriteString(t)
			break
		}
		if t[i] == '<' {
			if j := strings.IndexByte(t[i:], '>'); j > 0 && strings.Contains(t[i:i+j], "@") {
				b.WriteString(t[:i])
				b.WriteString("<address>")
				t = t[i+j+1:]
				continue
			}
			b.WriteString(t[:i+1])
			t = t[i+1:]
			continue
		}
		// A bare address: the word around the "@".
		start := strings.LastIndexAny(t[:i], " \t\r\n([{\"'") + 1
		end := i + 1
		for end < len(t) && !strings.ContainsRune(" \t\r\n)]}\"',;<>", rune(t[end])) {
			end++
		}
		word := strings.TrimRight(t[start:end], ".:")
		b.WriteString(t[:start])
		b.WriteString("<address>")
		t = t[start+len(word):]
	}
	return b.String()
}
