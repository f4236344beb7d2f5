package main

// npmSource is one pinned npm package the lists are built from: fetched
// with "npm pack NAME@VERSION" and checked against its registry integrity
// hash before anything is read from it.
type npmSource struct {
	name, version, integrity, license string
	// file is the path inside the tarball, and extract pulls the entries
	// out of its contents.
	file    string
	extract func([]byte) ([]string, error)
}

var disposableSources = []npmSource{
	{
		name: "disposable-email-domains-js", version: "1.26.0", license: "CC0-1.0",
		integrity: "sha512-pSqALZAiuw6HDC1HqhhtvShRnniUNObQ6kzwa5N280XbyxxCPBZnQQ7fO6Uk/CNTi4cAaKE1UZl3Mc30Zfj4UA==",
		file:      "package/dist/dict/disposable_email_blocklist.json", extract: jsonArray,
	},
	{
		name: "fakefilter", version: "0.1.1476", license: "BSD-3-Clause",
		integrity: "sha512-WG5cQrrHKNmaOW5vzS/J//FFHpvuObGjAjkgGZHSEU8Eq52XHvG1mXTF6Yzpc1E/yj4m4A/5JV60xdlJhhYjgA==",
		file:      "package/json/data.json", extract: fakefilterDomains,
	},
	{
		name: "mailchecker", version: "6.0.21", license: "MIT",
		integrity: "sha512-Zd2Lgj4RMnC0IBbbSjnF76Wbd+kkgKMRONgV9yOMKJhj6hcKIAQtj9MrmiGnT2Db+Dy6MsMQoG2HEhPk2YPuGA==",
		file:      "package/platform/node/index.js", extract: between("new Set([", "])"),
	},
}

var freeSources = []npmSource{
	{
		name: "email-providers", version: "2.26.0", license: "ISC",
		integrity: "sha512-ao9KMlxxQgFyXb16PCrSbB61o6GXRc4ik2zQhwuNxTnoH8r5UWXrSVkdNtBCW9G4sSYlbZ1aszvGBD9wlAiVsg==",
		file:      "package/all.json", extract: jsonArray,
	},
	{
		name: "freemail", version: "1.7.0", license: "ISC",
		integrity: "sha512-XzEdol9AxxwDN5ISi+J560MgQRKTiGOTRFakRQLUQDEjr48hBMzU5Eo7c2U13zzz3IwcaD+54jWHJrg6/wqRNA==",
		file:      "package/data/free.txt", extract: lines,
	},
	{
		// Only the hand-curated DOMAINS array: the package's domains.json
		// is mostly disposable domains.
		name: "free-email-domains", version: "1.12.6", license: "MIT",
		integrity: "sha512-xMhrsOFOamJTx5URT+Zej83eVyoHLntZCNwXiZXkW6tYSF2Y6eVZLAOZ1u6jqFeLXRu3yJgzr3R29ChLIvt4LA==",
		file:      "package/scripts/postinstall.mjs", extract: between("const DOMAINS = [", "]"),
	},
}

var roleSources = []npmSource{
	{
		name: "role-based-email-addresses", version: "3.1.0", license: "MIT",
		integrity: "sha512-3WfsnBtdfOqZNm7UcNhZdWz9LiG6XCeJsg/i2Bl8cW455Gk6L0lajFgOTLnDNHx6x07wvmxrNglP57+RQFOjXQ==",
		file:      "package/src/index.js", extract: between("const MARKETING = [", "module.exports"),
	},
}
