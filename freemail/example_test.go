package freemail_test

import (
	"fmt"

	"github.com/mailverify/mailverify/freemail"
)

func ExampleContains() {
	for _, domain := range []string{"gmail.com", "gmx.de", "golang.org"} {
		fmt.Println(domain, freemail.Contains(domain))
	}
	// Output:
	// gmail.com true
	// gmx.de true
	// golang.org false
}
