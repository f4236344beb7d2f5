package smtpprobe

import "testing"

// TestClientRateIsNoRecipientLimit: Postfix's anvil answers each RCPT
// past a client's rate with "too many recipients from [addr]"; that is
// the client's pace (rate_limited, no new transaction), unlike the
// per-transaction cap's "too many recipients".
func TestClientRateIsNoRecipientLimit(t *testing.T) {
	for _, tc := range []struct {
		line  string
		limit bool
	}{
		// Postfix smtpd_client_recipient_rate_limit (postconf(5)), as its smtpd sends it.
		{"450 4.7.1 Error: too many recipients from [192.0.2.1]", false},
		{"450 4.7.1 Error: too many recipients from 192.0.2.1", false},
		// Postfix smtpd_recipient_limit, and Exchange Online's cap.
		{"452 4.5.3 Error: too many recipients", true},
		{"452 4.5.3 Too many recipients (AS780090) [BN8NAM11FT066.eop-nam11.prod.protection.outlook.com]", true},
	} {
		r := replyFrom(t, tc.line)
		if got := IsRecipientLimit(r); got != tc.limit {
			t.Errorf("%q: IsRecipientLimit %v, want %v", tc.line, got, tc.limit)
		}
		if o := Classify(r); o != RateLimited {
			t.Errorf("%q: %v, want RateLimited", tc.line, o)
		}
	}
}
