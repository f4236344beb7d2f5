package egress_test

import (
	"testing"

	"github.com/mailverify/mailverify/egress"
	"github.com/mailverify/mailverify/mx"
)

// TestProfilesUseMXProviderNames checks that every profile but the
// default is keyed by a name mx.ProviderOf yields for that provider's MX
// hosts, so the engine can pass Result.Provider straight through.
func TestProfilesUseMXProviderNames(t *testing.T) {
	hosts := map[string]string{
		"google":       "aspmx.l.google.com",
		"microsoft365": "contoso-com.mail.protection.outlook.com",
		"outlook":      "outlook-com.olc.protection.outlook.com",
		"yahoo":        "mta5.am0.yahoodns.net",
		"icloud":       "mx01.mail.icloud.com",
		"proofpoint":   "mx0a-00000000.pphosted.com",
		"mimecast":     "us-smtp-inbound-1.mimecast.com",
		"zoho":         "mx.zoho.com",
		"gmx":          "mx00.gmx.net",
		"barracuda":    "d123.ess.barracudanetworks.com",
		"cisco":        "mx1.example.iphmx.com",
	}
	for _, p := range egress.DefaultProfiles().All() {
		if p.Provider == "default" {
			continue
		}
		h, ok := hosts[p.Provider]
		if !ok {
			t.Errorf("profile %q: add an MX host for it to this test", p.Provider)
			continue
		}
		if got := string(mx.ProviderOf(h)); got != p.Provider {
			t.Errorf("profile %q: mx.ProviderOf(%q) = %q", p.Provider, h, got)
		}
	}
}
