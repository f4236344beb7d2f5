package mx

import "strings"

// A Provider names the operator of a domain's mail servers, identified
// from the MX host names. The verdict layer uses it: some providers accept
// every recipient and bounce later, some are known not to be catch-all,
// and security gateways answer for servers behind them. The empty
// Provider means not identified.
type Provider string

// Providers identified from MX host names.
const (
	Google       Provider = "google"       // Gmail and Google Workspace
	Microsoft365 Provider = "microsoft365" // Exchange Online (business)
	Outlook      Provider = "outlook"      // outlook.com, hotmail.com, live.com (consumer)
	Yahoo        Provider = "yahoo"        // Yahoo Mail and AOL
	ICloud       Provider = "icloud"
	Zoho         Provider = "zoho"
	Proton       Provider = "proton"
	Fastmail     Provider = "fastmail"
	Yandex       Provider = "yandex"
	MailRu       Provider = "mailru"
	GMX          Provider = "gmx" // GMX, web.de and other United Internet mailboxes
	IONOS        Provider = "ionos"
	Proofpoint   Provider = "proofpoint"
	Mimecast     Provider = "mimecast"
	Barracuda    Provider = "barracuda"
	CiscoSecure  Provider = "cisco" // Cisco Secure Email (IronPort) cloud
	Hornet       Provider = "hornetsecurity"
	Trend        Provider = "trendmicro"
	Sophos       Provider = "sophos"
	Cloudflare   Provider = "cloudflare" // Cloudflare Email Routing (forwarding)
	ImprovMX     Provider = "improvmx"   // forwarding
	ForwardEmail Provider = "forwardemail"
	Rackspace    Provider = "rackspace"
	GoDaddy      Provider = "godaddy"
	Namecheap    Provider = "namecheap"
	OVH          Provider = "ovh"
	Titan        Provider = "titan"
	QQ           Provider = "qq"
	NetEase      Provider = "netease" // 163.com, 126.com
	Naver        Provider = "naver"
	Seznam       Provider = "seznam"
	Amazon       Provider = "amazonses" // Amazon SES inbound and WorkMail
)

// providerSuffixes maps MX host-name suffixes to providers. A suffix
// matches the host itself or any name under it. The first match in this
// order wins, so more specific suffixes come first.
var providerSuffixes = []struct {
	suffix   string
	provider Provider
}{
	{"olc.protection.outlook.com", Outlook},
	{"mail.protection.outlook.com", Microsoft365},
	{"mx.microsoft", Microsoft365}, // the newer *.mx.microsoft hosts
	{"aspmx.l.google.com", Google},
	{"googlemail.com", Google},
	{"google.com", Google}, // smtp.google.com, gmail-smtp-in.l.google.com
	{"yahoodns.net", Yahoo},
	{"mail.icloud.com", ICloud},
	{"icloud.com", ICloud},
	{"zoho.com", Zoho},
	{"zoho.eu", Zoho},
	{"zoho.in", Zoho},
	{"zoho.com.au", Zoho},
	{"zoho.jp", Zoho},
	{"zohomail.com", Zoho},
	{"protonmail.ch", Proton},
	{"proton.me", Proton},
	{"messagingengine.com", Fastmail},
	{"yandex.net", Yandex},
	{"yandex.ru", Yandex},
	{"mail.ru", MailRu},
	{"gmx.net", GMX},
	{"gmx.com", GMX},
	{"web.de", GMX},
	{"kundenserver.de", IONOS},
	{"ionos.de", IONOS},
	{"ionos.com", IONOS},
	{"ionos.co.uk", IONOS},
	{"pphosted.com", Proofpoint},
	{"ppe-hosted.com", Proofpoint},
	{"mimecast.com", Mimecast},
	{"mimecast.co.za", Mimecast},
	{"mimecast-offshore.com", Mimecast},
	{"barracudanetworks.com", Barracuda},
	{"iphmx.com", CiscoSecure},
	{"hornetsecurity.com", Hornet},
	{"tmes.trendmicro.com", Trend},
	{"tmes.trendmicro.eu", Trend},
	{"hydra.sophos.com", Sophos},
	{"mx.cloudflare.net", Cloudflare},
	{"improvmx.com", ImprovMX},
	{"forwardemail.net", ForwardEmail},
	{"emailsrvr.com", Rackspace},
	{"secureserver.net", GoDaddy},
	{"privateemail.com", Namecheap},
	{"mail.ovh.net", OVH},
	{"ovh.net", OVH},
	{"titan.email", Titan},
	{"qq.com", QQ},
	{"163.com", NetEase},
	{"126.com", NetEase},
	{"netease.com", NetEase},
	{"naver.com", Naver},
	{"seznam.cz", Seznam},
}

// ProviderOf identifies the provider of one MX host name (any case, with
// or without the trailing dot), or returns "".
func ProviderOf(host string) Provider {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	// Amazon SES (and WorkMail) receive at inbound-smtp.<region>.amazonaws.com;
	// other amazonaws.com hosts are customers' own servers.
	if strings.HasPrefix(host, "inbound-smtp.") && strings.HasSuffix(host, ".amazonaws.com") {
		return Amazon
	}
	for _, p := range providerSuffixes {
		if host == p.suffix || strings.HasSuffix(host, p.suffix) && host[len(host)-len(p.suffix)-1] == '.' {
			return p.provider
		}
	}
	return ""
}
