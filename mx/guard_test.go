package mx

import (
	"net/netip"
	"testing"
)

func TestRoutable(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"1.1.1.1":                              true,
		"8.8.8.8":                              true,
		"2606:4700::1111":                      true,
		"2a00:1450:4001::1b":                   true,
		"0.0.0.0":                              false,
		"0.1.2.3":                              false,
		"10.0.0.1":                             false,
		"100.64.0.1":                           false,
		"100.128.0.1":                          true, // just past CGNAT
		"127.0.0.1":                            false,
		"127.255.255.254":                      false,
		"169.254.169.254":                      false, // cloud metadata
		"172.16.0.1":                           false,
		"172.31.255.255":                       false,
		"172.32.0.1":                           true,
		"192.0.0.8":                            false,
		"192.0.2.1":                            false,
		"192.88.99.1":                          false,
		"192.168.1.1":                          false,
		"198.18.0.1":                           false,
		"198.51.100.7":                         false,
		"203.0.113.9":                          false,
		"224.0.0.251":                          false,
		"239.255.255.250":                      false,
		"240.0.0.1":                            false,
		"255.255.255.255":                      false,
		"::":                                   false,
		"::1":                                  false,
		"::ffff:127.0.0.1":                     false, // IPv4-mapped loopback
		"::ffff:8.8.8.8":                       true,
		"64:ff9b::10.0.0.1":                    false, // NAT64 to a private address
		"64:ff9b::8.8.8.8":                     true,
		"64:ff9b:1::1":                         false,
		"::127.0.0.1":                          false, // IPv4-compatible (deprecated)
		"::10.0.0.1":                           false,
		"::8.8.8.8":                            false,
		"::ffff:0:10.0.0.1":                    false, // SIIT IPv4-translated
		"::ffff:0:8.8.8.8":                     true,
		"2001:0:4136:e378:8000:63bf:3fff:fdd2": false, // Teredo
		"2a00:1450:4001:81c::5efe:a00:1":       false, // ISATAP identifier of 10.0.0.1
		"2a00:1450:4001:81c:200:5efe:7f00:1":   false, // ISATAP identifier of 127.0.0.1
		"2a00:1450:4001:81c::5efe:808:808":     true,
		"2002:7f00:1::1":                       false, // 6to4 of 127.0.0.1
		"2002:808:808::1":                      true,  // 6to4 of 8.8.8.8
		"100::1":                               false,
		"2001::1":                              false, // Teredo
		"2001:db8::1":                          false,
		"3fff::1":                              false,
		"fc00::1":                              false,
		"fd12:3456::1":                         false,
		"fe80::1":                              false,
		"fec0::1":                              false,
		"ff02::1":                              false,
	} {
		if got := Routable(netip.MustParseAddr(s)); got != want {
			t.Errorf("Routable(%s) = %v, want %v", s, got, want)
		}
	}
	if Routable(netip.Addr{}) {
		t.Error("the zero Addr is routable")
	}
	if Routable(netip.MustParseAddr("fe80::1%eth0")) {
		t.Error("an address with a zone is routable")
	}
}
