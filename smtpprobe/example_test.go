package smtpprobe_test

import (
	"context"
	"fmt"

	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/smtpprobe"
)

func ExampleSession_Probe() {
	// A scripted server stands in for a real MX host here; in production the
	// Dialer is nil (a net.Dialer) and the address comes from package mx.
	srv := testsmtp.Mailboxes("jane@example.com")
	defer srv.Close()

	p := &smtpprobe.Prober{Dialer: srv, HELO: "verifier.example.net", MailFrom: "probe@example.net"}
	s, err := p.Open(context.Background(), "mx.example.com", "192.0.2.25:25")
	if err != nil {
		fmt.Println(smtpprobe.OutcomeOf(err), err)
		return
	}
	defer s.Close()
	for _, r := range s.Probe(context.Background(), "jane@example.com", "john@example.com") {
		fmt.Println(r.Address, r.Outcome, r.Reply.Code, r.Reply.Enhanced)
	}
	// Output:
	// jane@example.com accepted 250 2.1.5
	// john@example.com mailbox_not_found 550 5.1.1
}
