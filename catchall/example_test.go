package catchall_test

import (
	"fmt"

	"github.com/mailverify/mailverify/catchall"
)

// A provider's own consumer domains are known to refuse unknown
// recipients; a domain merely hosted there (Workspace) is not.
func ExampleKnownNotCatchAll() {
	fmt.Println(catchall.KnownNotCatchAll("gmail.com", "google"))
	fmt.Println(catchall.KnownNotCatchAll("acme.com", "google"))
	// Output:
	// true
	// false
}

// The random address a Detector asks about has a form no one chooses,
// which tells it apart in a transcript.
func ExampleIsProbe() {
	a := catchall.RandomLocalPart() + "@example.com"
	fmt.Println(catchall.IsProbe(a), catchall.IsProbe("jane@example.com"))
	// Output: true false
}
