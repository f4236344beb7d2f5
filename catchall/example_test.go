package catchall_test

import (
	"fmt"
	"strings"

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

// The random address a Detector asks about is drawn afresh each time in
// the shape of an address of the domain: here a name, a dot and a
// surname, with letters and lengths of its own.
func ExampleRandomLocalPart() {
	l := catchall.RandomLocalPart("jane.roe")
	fmt.Println(strings.Count(l, "."), l != catchall.RandomLocalPart("jane.roe"))
	// Output: 1 true
}
