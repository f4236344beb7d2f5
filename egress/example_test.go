package egress_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mailverify/mailverify/egress"
)

// Classify reads a reply for what it says about the egress.
func ExampleClassify() {
	for _, r := range []egress.Reply{
		{Stage: egress.StageRcpt, Code: 550, Enhanced: "5.7.606", Text: "Access denied, banned sending IP [192.0.2.10]."},
		{Stage: egress.StageMail, Code: 421, Enhanced: "4.7.0", Text: "[TSS04] Messages from 192.0.2.10 temporarily deferred due to unexpected volume or user complaints"},
		{Stage: egress.StageRcpt, Code: 554, Enhanced: "5.7.1", Text: "Service unavailable; Client host [192.0.2.10] blocked using zen.spamhaus.org; Error: open resolver"},
		{Stage: egress.StageRcpt, Code: 550, Enhanced: "5.1.1", Text: "User unknown"},
	} {
		f := egress.Classify(r)
		fmt.Printf("%-22s %-13s %s\n", f.Verdict, f.Provider, f.Rule)
	}
	// Output:
	// blocked                microsoft365  ms-banned-ip
	// throttled              yahoo         yahoo-deferred
	// receiver_misconfigured               dnsbl-query-error
	// none
}

// A pool from an egress file, routed per provider and mail server: the
// engine dials through the lease's egress, spends budget per RCPT, and
// reports what the server said.
func ExampleRouter() {
	pool, err := egress.ParseFile(strings.NewReader(`
192.0.2.10 name=ms-a helo=a.example.net providers=microsoft365
192.0.2.11 name=rest helo=b.example.net
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	var events []egress.EgressEvent
	health := &egress.Health{Hook: func(e egress.EgressEvent) { events = append(events, e) }}
	r, err := egress.NewRouter(pool, health, &egress.Budgets{})
	if err != nil {
		fmt.Println(err)
		return
	}

	l, err := r.Route("microsoft365", "203.0.113.25")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("session through", l.Egress.ID(), "as", l.Egress.HELO)
	if err := l.Take(1); err == nil { // one RCPT
		f, _ := l.Observe("contoso-com.mail.protection.outlook.com", egress.Reply{
			Stage: egress.StageRcpt, Code: 550, Enhanced: "5.7.606", Text: "Access denied, banned sending IP [192.0.2.10].",
		})
		fmt.Println("reply:", f.Verdict)
	}
	l.Release()
	fmt.Println("event:", events[0].Egress, events[0].From, "→", events[0].To)

	// ms-a is the only egress pinned to Microsoft, and it is quarantined.
	_, err = r.Route("microsoft365", "203.0.113.25")
	var ue *egress.UnavailableError
	fmt.Println("next:", errors.As(err, &ue) && ue.Blocked)
	// Output:
	// session through ms-a as a.example.net
	// reply: blocked
	// event: ms-a healthy → blocked
	// next: true
}
