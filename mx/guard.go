package mx

import "net/netip"

// nonPublic lists the address ranges that no public mail server uses:
// the IANA special-purpose registries (RFC 6890 and successors) less the
// globally reachable entries.
var nonPublic = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // "this network" (RFC 791)
		"10.0.0.0/8",      // private (RFC 1918)
		"100.64.0.0/10",   // shared address space, CGNAT (RFC 6598)
		"127.0.0.0/8",     // loopback (RFC 1122)
		"169.254.0.0/16",  // link-local (RFC 3927)
		"172.16.0.0/12",   // private (RFC 1918)
		"192.0.0.0/24",    // IETF protocol assignments (RFC 6890)
		"192.0.2.0/24",    // documentation TEST-NET-1 (RFC 5737)
		"192.88.99.0/24",  // deprecated 6to4 relay anycast (RFC 7526)
		"192.168.0.0/16",  // private (RFC 1918)
		"198.18.0.0/15",   // benchmarking (RFC 2544)
		"198.51.100.0/24", // documentation TEST-NET-2 (RFC 5737)
		"203.0.113.0/24",  // documentation TEST-NET-3 (RFC 5737)
		"224.0.0.0/4",     // multicast (RFC 5771)
		"240.0.0.0/4",     // reserved, and the limited broadcast address (RFC 1112, RFC 919)
		"::/96",           // unspecified, loopback and the deprecated IPv4-compatible addresses (RFC 4291 section 2.5.5.1)
		"64:ff9b:1::/48",  // local-use IPv4/IPv6 translation (RFC 8215)
		"100::/64",        // discard-only (RFC 6666)
		"2001::/23",       // IETF protocol assignments, incl. Teredo, ORCHID (RFC 2928)
		"2001:db8::/32",   // documentation (RFC 3849)
		"3fff::/20",       // documentation (RFC 9637)
		"5f00::/16",       // segment routing SIDs (RFC 9602)
		"fc00::/7",        // unique local (RFC 4193)
		"fe80::/10",       // link-local (RFC 4291)
		"fec0::/10",       // deprecated site-local (RFC 3879)
		"ff00::/8",        // multicast (RFC 4291)
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// Routable reports whether ip is a public unicast address that a mail
// server on the Internet may have. It is false for loopback, private
// (RFC 1918, unique local), shared (CGNAT), link-local, multicast,
// unspecified, documentation, benchmarking and other reserved ranges. An
// IPv6 address that embeds an IPv4 address (IPv4-mapped, SIIT
// ::ffff:0:0:0/96, NAT64 64:ff9b::/96, 6to4 2002::/16, an ISATAP interface
// identifier) is judged by the IPv4 address it reaches; IPv4-compatible
// addresses (::/96, deprecated) and Teredo are never routable.
//
// This is the SSRF guard: a library fed user-typed addresses must not
// connect to the networks behind the machine it runs on.
func Routable(ip netip.Addr) bool {
	if !ip.IsValid() || ip.Zone() != "" {
		return false
	}
	ip = ip.Unmap()
	if ip.Is6() {
		b := ip.As16()
		switch {
		case netip.PrefixFrom(ip, 96).Masked() == nat64:
			return Routable(netip.AddrFrom4([4]byte(b[12:16])))
		case b[0] == 0x20 && b[1] == 0x02: // 6to4: 2002:V4ADDR::/48
			return Routable(netip.AddrFrom4([4]byte(b[2:6])))
		case netip.PrefixFrom(ip, 96).Masked() == siit:
			return Routable(netip.AddrFrom4([4]byte(b[12:16])))
		case b[8]&^0x02 == 0 && b[9] == 0 && b[10] == 0x5e && b[11] == 0xfe: // ISATAP: ::0:5efe:V4ADDR, ::200:5efe:V4ADDR
			if !Routable(netip.AddrFrom4([4]byte(b[12:16]))) {
				return false
			}
		}
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

var (
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
	siit  = netip.MustParsePrefix("::ffff:0:0:0/96") // IPv4-translated (RFC 2765)
)
