// Package mx finds the mail servers of a domain, as an SMTP client must
// before it connects (RFC 5321 section 5.1).
//
// [Client.Lookup] asks for the MX records, sorts them by preference with
// equal preferences shuffled, follows CNAMEs, and resolves every host to
// its A and AAAA addresses. It applies the rules that sit above any
// resolver:
//
//   - no MX records: the domain's own A/AAAA records are an implicit MX;
//   - a null MX ("MX 0 .", RFC 7505): the domain takes no mail, with no
//     fallback to A/AAAA;
//   - NXDOMAIN is [DomainNotFound]; SERVFAIL and timeouts are [Temporary],
//     never "not found";
//   - an MX host that does not resolve is reported on its [Host], and the
//     others are still tried;
//   - the SSRF guard: addresses that no public mail server has (loopback,
//     private, link-local, CGNAT, multicast, documentation and other
//     reserved ranges; see [Routable]) are dropped, and a domain left with
//     none is [Unroutable]. Client.AllowPrivate turns the guard off.
//
// Answers are cached for their TTL, negative answers for the SOA minimum
// (RFC 2308), in a bounded cache; concurrent lookups of one domain share a
// single set of queries, and one caller's cancellation never fails the
// others. The mail provider (Google, Microsoft 365, Yahoo, ...) is
// identified from the MX host names.
//
// DNS goes through a [Resolver]: the default is [*DNS], a stub resolver
// built on github.com/miekg/dns (UDP with EDNS0, TCP on truncation,
// retries across servers); a *net.Resolver or a test fake plugs in too.
// Package mx does not connect to the mail servers: that is package
// smtpprobe's work.
package mx
