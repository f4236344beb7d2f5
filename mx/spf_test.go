package mx

import "testing"

func TestBackendFromSPF(t *testing.T) {
	for _, tc := range []struct {
		txts []string
		want Provider
	}{
		{[]string{"v=spf1 include:spf.protection.outlook.com include:_spf.pphosted.com -all"}, Microsoft365},
		{[]string{"google-site-verification=abc", "v=spf1 ip4:192.0.2.0/24 +include:_spf.google.com ~all"}, Google},
		{[]string{"v=spf1 include:eu.zoho.com ~all"}, Zoho},
		{[]string{"v=spf1 include:_spf.mimecast.com -all"}, ""},
		{[]string{"v=spf1include:spf.protection.outlook.com"}, ""}, // not an SPF record
		{[]string{"spf.protection.outlook.com"}, ""},
		{nil, ""},
		{[]string{"v=spf1 include:evilspf.protection.outlook.com.example -all"}, ""},
	} {
		if got := BackendFromSPF(tc.txts); got != tc.want {
			t.Errorf("BackendFromSPF(%q) = %q; want %q", tc.txts, got, tc.want)
		}
	}
}
