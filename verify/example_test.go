package verify

import (
	"bufio"
	"context"
	"fmt"
	"strings"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

func ExampleVerifier_VerifySeq() {
	// A fake DNS and a scripted SMTP server stand in for the Internet.
	w := newWorld()
	w.add("example.com", testsmtp.Mailboxes("jane@example.com"))
	defer w.router.close()
	v := &Verifier{Resolver: w.res, Dialer: w.router, AllowPrivate: true, HELO: "verifier.example.net"}

	// The input streams: a file of millions of lines is read as it goes,
	// with at most v.Window addresses in flight.
	list := strings.NewReader("jane@example.com\njohn@example.com\nnot an address\n")
	lines := func(yield func(string) bool) {
		sc := bufio.NewScanner(list)
		for sc.Scan() {
			if !yield(sc.Text()) {
				return
			}
		}
	}
	// Results come as they are ready, each with its input's position; a
	// list cleaner writes each at once. Here they are put back in order.
	results := map[int]Result{}
	for i, r := range v.VerifySeq(context.Background(), lines) {
		results[i] = r
	}
	for i := range len(results) {
		fmt.Println(results[i].Input, results[i].Status, results[i].Reason)
	}
	// Output:
	// jane@example.com deliverable accepted
	// john@example.com undeliverable mailbox_not_found
	// not an address undeliverable invalid_syntax
}
