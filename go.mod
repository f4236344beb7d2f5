module github.com/mailverify/mailverify

go 1.25.0

require (
	github.com/miekg/dns v1.1.73
	golang.org/x/net v0.58.0
	golang.org/x/sync v0.22.0
	golang.org/x/text v0.41.0
	golang.org/x/time v0.15.0
)

require golang.org/x/sys v0.47.0 // indirect
