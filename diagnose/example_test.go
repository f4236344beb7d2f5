package diagnose_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/mailverify/mailverify/diagnose"
	"github.com/mailverify/mailverify/internal/testdns"
)

// A domain that takes no mail says so with a null MX (RFC 7505) and an SPF
// record that authorizes no one; a fake DNS server on loopback answers
// for it here, so the example runs without a network. Against a real
// domain, leave Config.DNS empty (the resolvers of /etc/resolv.conf).
func Example() {
	zone, err := testdns.NewZone(
		"nomail.test. 300 IN MX 0 .",
		`nomail.test. 300 IN TXT "v=spf1 -all"`,
		`_dmarc.nomail.test. 300 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@nomail.test"`,
		"nomail.test. 300 IN NS ns.nomail.test.",
		"nomail.test. 300 IN SOA ns.nomail.test. hostmaster.nomail.test. 2026120101 3600 600 86400 300",
		"ns.nomail.test. 300 IN A 127.0.0.1",
	)
	if err != nil {
		log.Fatal(err)
	}
	addr, stop, err := testdns.Start(zone)
	if err != nil {
		log.Fatal(err)
	}
	defer stop()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		log.Fatal(err)
	}

	// The name server is the fake one, on loopback: AllowPrivate lets it
	// be asked, AuthPort names its port. No blocklists are asked.
	c := &diagnose.Checker{Config: diagnose.Config{DNS: []string{addr}, AuthPort: port, AllowPrivate: true, DNSBL: []string{}}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := c.Check(ctx, "nomail.test")
	if err != nil {
		log.Fatal(err) // not a domain name, or unusable resolvers
	}
	for _, ch := range rep.Checks {
		fmt.Printf("%-5s %-16s %s\n", ch.Result, ch.ID, ch.Finding)
	}
	fmt.Println("overall:", rep.Summary.Result)
	// Output:
	// info  dns.mx           null MX (RFC 7505): the domain accepts no mail
	// warn  dns.delegation   only one name server
	// info  dns.dnssec       not signed (no DS record)
	// pass  auth.spf         one record, 0 lookups, ends in "-all"
	// pass  auth.dmarc       p=reject, reports to mailto:dmarc@nomail.test, alignment DKIM relaxed / SPF relaxed
	// info  auth.bimi        no BIMI record (optional: a logo for receivers that show one, needs DMARC enforcement)
	// overall: warn
}
