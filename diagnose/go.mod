module github.com/mailverify/mailverify/diagnose

go 1.26.0

require (
	blitiri.com.ar/go/spf v1.6.0
	github.com/emersion/go-msgauth v0.7.0
	github.com/mailverify/mailverify v0.0.0
	github.com/miekg/dns v1.1.73
)

require (
	golang.org/x/net v0.58.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
	golang.org/x/text v0.41.0 // indirect
)

// diagnose is released with the library from this repository; the
// replace keeps a clone self-contained. See the README's "Layout".
replace github.com/mailverify/mailverify => ../
