package diagnose_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/mailverify/mailverify/diagnose"
	"github.com/mailverify/mailverify/internal/testdns"
	"github.com/mailverify/mailverify/internal/testsmtp"
)

// Doctor checks the prober's own setup. Here a fake DNS server and a
// mail server on loopback stand in for the world: the provider's MX host
// answers port 25, and the egress's address (192.0.2.7, configured, as
// behind NAT) has a PTR that matches its HELO and is in its MAIL FROM
// domain's SPF record. Against the world, leave DNS, Providers and Port
// at their zero values.
func ExampleDoctor() {
	srv := &testsmtp.Server{}
	smtpAddr, err := srv.Listen()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	zone, err := testdns.NewZone(
		"provider.test. 300 IN MX 10 mx.provider.test.",
		"mx.provider.test. 300 IN A 127.0.0.1",
		"7.2.0.192.in-addr.arpa. 300 IN PTR probe.example.test.",
		"probe.example.test. 300 IN A 192.0.2.7",
		"example.test. 300 IN MX 10 mx.example.test.",
		`example.test. 300 IN TXT "v=spf1 ip4:192.0.2.7 -all"`,
	)
	if err != nil {
		log.Fatal(err)
	}
	dnsAddr, stop, err := testdns.Start(zone)
	if err != nil {
		log.Fatal(err)
	}
	defer stop()
	_, port, _ := net.SplitHostPort(smtpAddr)
	p, _ := strconv.Atoi(port)

	cfg := diagnose.DoctorConfig{DNS: []string{dnsAddr}, Providers: []string{"provider.test"}, Port: p,
		DNSBL: []string{}, AllowPrivate: true, Timeout: 5 * time.Second,
		Egresses: []diagnose.Egress{{HELO: "probe.example.test", MailFrom: "bounce@example.test", PublicIP: "192.0.2.7"}}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := diagnose.Doctor(ctx, cfg)
	if err != nil {
		log.Fatal(err) // a configuration that cannot work, or unusable resolvers
	}
	for _, ch := range rep.Checks {
		finding := ch.Finding
		if ch.ID == "port25.server" {
			finding, _, _ = strings.Cut(finding, " after") // the time varies
		}
		fmt.Printf("%-4s %-18s %s\n", ch.Result, ch.ID, finding)
	}
	fmt.Println("overall:", rep.Summary.Result)
	// Output:
	// pass port25.server      220 greeting
	// pass port25.outbound    all 1 mail servers answered on port 25
	// info identity.address   no server stated the address; checking the configured 192.0.2.7
	// pass identity.ptr       PTR probe.example.test
	// pass identity.fcrdns    probe.example.test resolves back to 192.0.2.7
	// pass identity.helo      probe.example.test is the PTR name and resolves to 192.0.2.7
	// pass identity.mail_from example.test has MX records
	// pass identity.spf       SPF of example.test authorizes 192.0.2.7
	// info evidence.recent    no record of recent runs was given (mailverify doctor --egress-state FILE reads what a run kept; the service reads its egress store)
	// overall: info
}
