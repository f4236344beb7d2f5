package catchall

import (
	"strings"
	"testing"

	"github.com/mailverify/mailverify/syntax"
)

// The review of the random address's new draw (7d0ecba..ff1a038,
// /work/notes/rev-form.md): models that syntax accepts, at the edges of
// RFC 5321, and what the draw makes of them.

// TestReviewDrawStaysWithinRFC5321: every model below is a local part
// syntax.Parse accepts (64 octets, the most RFC 5321 allows). A random
// local part drawn like it must be one too: a server may refuse a local
// part over 64 octets with 553 5.1.3 ("bad address syntax"), which
// smtpprobe reads as MailboxNotFound, so a catch-all that enforces the
// limit would seem to judge (see verify's
// TestReviewCanaryOverSixtyFourOctets).
func TestReviewDrawStaysWithinRFC5321(t *testing.T) {
	t.Parallel()
	models := []string{
		strings.Repeat("a1", 32),        // 64 runs of one
		strings.Repeat("ab12", 16),      // 32 runs of two
		strings.Repeat("x", 64),         // one run of 64
		strings.Repeat("jo.", 21) + "e", // 22 runs and 21 dots
		strings.Repeat("é", 32),         // 64 octets of UTF-8 (SMTPUTF8)
		strings.Repeat("k-9", 21) + "z", // separators and digits
		// People's long addresses, 63 octets each.
		"anna.maria.magdalena.von.hohenzollern-sigmaringen.office.berlin",
		"maximilian.alexander.schmidt-hohenzollern.personal.mailbox.2019",
	}
	for _, m := range models {
		a, err := syntax.Parse(m + "@example.com")
		if err != nil {
			t.Fatalf("model %q is not a valid address: %v", m, err)
		}
		if n := len(a.ASCII()) - len("@example.com"); n > 64 {
			t.Fatalf("model %q: %d octets", m, n)
		}
		over := 0
		var example string
		for range 200 {
			l := RandomLocalPart(m)
			if _, err := syntax.Parse(l + "@example.com"); err != nil || len(l) > 64 {
				over++
				example = l
			}
		}
		if over > 0 {
			t.Errorf("like %q (%d octets): %d of 200 draws are no valid local part, e.g. %q (%d octets)", m, len(m), over, example, len(example))
		}
	}
}

// TestReviewDrawHasItsBits: minBits is a promise about every draw ("no
// local part is drawn with a probability above 2^-minBits"). A model
// whose length is mostly separators (a valid dot-atom: '_' and '-' are
// atext and may follow each other) reaches maxLocal before its runs
// are lengthened, and the separators are then dropped: the draw is two
// letters.
func TestReviewDrawHasItsBits(t *testing.T) {
	t.Parallel()
	for _, m := range []string{
		"a" + strings.Repeat("_-", 23) + "b",
		"a" + strings.Repeat("-", 46) + "b",
		"ab" + strings.Repeat("._", 22) + "c",
	} {
		if _, err := syntax.Parse(m + "@example.com"); err != nil {
			t.Fatalf("model %q is not a valid address: %v", m, err)
		}
		short := 0
		var example string
		var least float64 = 1e9
		for range 200 {
			l, bits := draw([]string{m})
			if bits < minBits {
				short++
				example = l
				least = min(least, bits)
			}
		}
		if short > 0 {
			t.Errorf("like %q: %d of 200 draws under %d bits, e.g. %q; least %.1f bits", m, short, minBits, example, least)
		}
	}
}
