module github.com/mailverify/mailverify/cmd/mailverify

go 1.25.0

require (
	github.com/mailverify/mailverify v0.0.0
	golang.org/x/net v0.58.0
)

require (
	github.com/miekg/dns v1.1.73 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
	golang.org/x/text v0.41.0 // indirect
	golang.org/x/time v0.15.0 // indirect
)

// The command is released with the library from this repository; the
// replace keeps a clone self-contained. See the README's "Layout".
replace github.com/mailverify/mailverify => ../..
