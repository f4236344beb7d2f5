package mxtest_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/mailverify/mailverify/mx"
	"github.com/mailverify/mailverify/mx/mxtest"
)

// A map-backed resolver lets code that looks up mail servers run without
// a network (nothing connects to the address).
func ExampleResolver() {
	r := &mxtest.Resolver{
		MX: map[string][]*net.MX{"example.com": {{Host: "mx.example.com", Pref: 10}}},
		IP: map[string][]netip.Addr{"mx.example.com": {netip.MustParseAddr("93.184.215.14")}},
	}
	c := &mx.Client{Resolver: r, Canary: "-"}
	res, err := c.Lookup(context.Background(), "example.com")
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, res.Hosts[0].Name, r.Queries("MX", "example.com"))
	// Output: found mx.example.com 1
}
