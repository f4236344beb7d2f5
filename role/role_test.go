package role

import "testing"

func TestIs(t *testing.T) {
	t.Parallel()
	for local, want := range map[string]bool{
		"info":           true,
		"INFO":           true,
		"support":        true,
		"postmaster":     true,
		"abuse":          true,
		"no-reply":       true,
		"no_reply":       true,
		"no.reply":       true,
		"noreply+shop":   true,
		"NoReply":        true,
		"donotreply":     true,
		"do-not-reply":   true,
		"mailer-daemon":  true,
		"bounce":         true,
		"sales":          true,
		"admin":          true,
		"webmaster":      true,
		"jane":           false,
		"jane.doe":       false,
		"dean":           false, // a given name, removed from the source list
		"alexa":          false,
		"per":            false,
		"":               false,
		"+tag":           false,
		"support-team-x": false,
	} {
		if got := Is(local); got != want {
			t.Errorf("Is(%q) = %v, want %v", local, got, want)
		}
	}
}

func TestKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"No-Reply+x": "noreply", "a.b_c-d": "abcd", "ÄB": "Äb"} {
		if got := Key(in); got != want {
			t.Errorf("Key(%q) = %q, want %q", in, got, want)
		}
	}
	if len(roles()) < 900 {
		t.Errorf("%d roles embedded", len(roles()))
	}
}
