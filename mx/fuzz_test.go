package mx

import (
	"testing"

	"github.com/miekg/dns"
)

// FuzzAnswer feeds arbitrary DNS messages to the answer processing: it
// must never panic, must return only records of the asked type, and must
// never report a negative TTL.
func FuzzAnswer(f *testing.F) {
	z := standardZone(f)
	for name := range z.Records {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeMX)
		r := new(dns.Msg)
		r.SetReply(m)
		r.Answer = z.Records[name]
		if b, err := r.Pack(); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := new(dns.Msg)
		if err := r.Unpack(b); err != nil {
			return
		}
		for _, q := range []uint16{dns.TypeMX, dns.TypeA, dns.TypeAAAA} {
			name := "example.test."
			if len(r.Question) > 0 {
				name = r.Question[0].Name
			}
			rrs, ttl := answerRecords(r, name, q)
			if ttl < 0 || negativeTTL(r) < 0 {
				t.Fatalf("negative TTL")
			}
			for _, rr := range rrs {
				if rr.Header().Rrtype != q {
					t.Fatalf("asked for %s, got %s", dns.TypeToString[q], rr)
				}
			}
		}
	})
}
