package mx

import "testing"

func TestProviderOf(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]Provider{
		"gmail-smtp-in.l.google.com":              Google,
		"alt1.aspmx.l.google.com.":                Google,
		"ASPMX.L.GOOGLE.COM":                      Google,
		"smtp.google.com":                         Google,
		"aspmx2.googlemail.com":                   Google,
		"contoso-com.mail.protection.outlook.com": Microsoft365,
		"contoso-com.l-v1.mx.microsoft":           Microsoft365,
		"hotmail-com.olc.protection.outlook.com":  Outlook,
		"mta5.am0.yahoodns.net":                   Yahoo,
		"mx01.mail.icloud.com":                    ICloud,
		"mx.zoho.com":                             Zoho,
		"mx2.zoho.eu":                             Zoho,
		"mx.zoho.in":                              Zoho,
		"mx.zoho.com.au":                          Zoho,
		"mx.zoho.jp":                              Zoho,
		"mx.zohomail.com":                         Zoho,
		"mail.protonmail.ch":                      Proton,
		"mailsec.protonmail.ch":                   Proton,
		"mail.proton.me":                          Proton,
		"in1-smtp.messagingengine.com":            Fastmail,
		"mx.yandex.net":                           Yandex,
		"mx.yandex.ru":                            Yandex,
		"mxs.mail.ru":                             MailRu,
		"mx00.gmx.net":                            GMX,
		"mx00.gmx.com":                            GMX,
		"mx-ha03.web.de":                          GMX,
		"mx00.kundenserver.de":                    IONOS,
		"mx00.ionos.de":                           IONOS,
		"mx00.ionos.com":                          IONOS,
		"mx00.ionos.co.uk":                        IONOS,
		"mx0a-00123456.pphosted.com":              Proofpoint,
		"mx1-us1.ppe-hosted.com":                  Proofpoint,
		"us-smtp-inbound-1.mimecast.com":          Mimecast,
		"za-smtp-inbound-1.mimecast.co.za":        Mimecast,
		"de-smtp-inbound-1.mimecast-offshore.com": Mimecast,
		"d123456a.ess.barracudanetworks.com":      Barracuda,
		"mx1.hc1234-56.iphmx.com":                 CiscoSecure,
		"mx01.hornetsecurity.com":                 Hornet,
		"example-com.mx1-v.tmes.trendmicro.com":   Trend,
		"example-com.mx1.tmes.trendmicro.eu":      Trend,
		"mx-01-us-west-2.prod.hydra.sophos.com":   Sophos,
		"route1.mx.cloudflare.net":                Cloudflare,
		"mx1.improvmx.com":                        ImprovMX,
		"mx1.forwardemail.net":                    ForwardEmail,
		"mx1.emailsrvr.com":                       Rackspace,
		"mx1.secureserver.net":                    GoDaddy,
		"mx1.privateemail.com":                    Namecheap,
		"mx1.mail.ovh.net":                        OVH,
		"mx3.ovh.net":                             OVH,
		"mx1.titan.email":                         Titan,
		"mx1.qq.com":                              QQ,
		"163mx01.mxmail.netease.com":              NetEase,
		"mx.126.com":                              NetEase,
		"mx1.naver.com":                           Naver,
		"mx1.seznam.cz":                           Seznam,
		"inbound-smtp.us-east-1.amazonaws.com":    Amazon,
		"ec2-1-2-3-4.compute-1.amazonaws.com":     "", // a customer's own server
		"mail.example.com":                        "",
		"notgoogle.com":                           "", // suffix must match at a label boundary
		"google.com.evil.example":                 "",
		"mx.icloud.com.example":                   "",
		"":                                        "",
	} {
		if got := ProviderOf(host); got != want {
			t.Errorf("ProviderOf(%q) = %q, want %q", host, got, want)
		}
	}
}

// TestProviderTableReachable checks every suffix of the table identifies
// its provider: an entry shadowed by an earlier, broader one is a bug.
func TestProviderTableReachable(t *testing.T) {
	t.Parallel()
	for _, p := range providerSuffixes {
		if got := ProviderOf("mx1." + p.suffix); got != p.provider {
			t.Errorf("suffix %q gives %q, want %q", p.suffix, got, p.provider)
		}
	}
}
