package suggest_test

import (
	"fmt"

	"github.com/mailverify/mailverify/suggest"
)

func ExampleDomain() {
	for _, domain := range []string{"gmial.com", "hotmail.con", "hotmail.fr", "acme.co"} {
		fmt.Printf("%s -> %q\n", domain, suggest.Domain(domain))
	}
	// Output:
	// gmial.com -> "gmail.com"
	// hotmail.con -> "hotmail.com"
	// hotmail.fr -> ""
	// acme.co -> ""
}
