package syntax_test

import (
	"errors"
	"fmt"

	"github.com/mailverify/mailverify/syntax"
)

func ExampleParse() {
	a, err := syntax.Parse("Jane.Doe@BÜCHER.de")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(a)
	fmt.Println(a.ASCII())
	fmt.Println(a.SMTPUTF8())
	// Output:
	// Jane.Doe@bücher.de
	// Jane.Doe@xn--bcher-kva.de
	// false
}

func ExampleParse_errors() {
	for _, s := range []string{
		"jane..doe@example.com",
		"jane@example.test",
		"jane@xn--a.com",
		"jane@example.com\r\nRCPT TO:<x@example.com>",
	} {
		_, err := syntax.Parse(s)
		var se *syntax.Error
		if errors.As(err, &se) {
			fmt.Printf("offset %d: %v\n", se.Pos, se.Err)
		}
	}
	// Output:
	// offset 4: misplaced dot
	// offset 13: special-use domain
	// offset 5: invalid internationalized label
	// offset 16: control character
}

func ExamplePolicy() {
	// Tests that run against .test domains keep the sign-up rules otherwise.
	p := syntax.Default
	p.AllowSpecialUse = true
	a, err := p.Parse("probe@mx.example.test")
	fmt.Println(a, err)

	// Strict is the RFC grammar: quoted local parts and literals included.
	for _, s := range []string{`"john doe"@example.com`, "postmaster@[IPv6:2001:db8::1]"} {
		a, err := syntax.Strict.Parse(s)
		fmt.Println(a, a.IsQuoted(), a.IsLiteral(), err)
	}
	// Output:
	// probe@mx.example.test <nil>
	// "john doe"@example.com true false <nil>
	// postmaster@[IPv6:2001:db8::1] false true <nil>
}

func ExampleAddress_Subaddress() {
	a, err := syntax.Parse("jane+newsletters@example.com")
	if err != nil {
		fmt.Println(err)
		return
	}
	user, detail, ok := a.Subaddress()
	fmt.Println(user, detail, ok)
	// Output: jane newsletters true
}
