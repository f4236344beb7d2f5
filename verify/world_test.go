package verify

import (
	"context"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/mx/mxtest"
)

// router dials the testsmtp server registered for an "ip:port"; other
// addresses are refused, as a closed port is.
type router map[string]*testsmtp.Server

func (r router) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if s, ok := r[addr]; ok {
		return s.DialContext(ctx, network, addr)
	}
	return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
}

func (r router) close() {
	for _, s := range r {
		s.Close()
	}
}

func reply(code int, enh, text string) testsmtp.Handler {
	return func(*testsmtp.Conn, testsmtp.Command) testsmtp.Reply { return testsmtp.R(code, enh, text) }
}

// world is a fake Internet: one domain per behaviour, its MX host on a
// loopback address, and a scripted server there.
type world struct {
	res    *mxtest.Resolver
	router router
	n      int
}

func newWorld() *world {
	return &world{res: &mxtest.Resolver{MX: map[string][]*net.MX{}, IP: map[string][]netip.Addr{}, Errs: map[string]error{}}, router: router{}}
}

// add gives domain an MX host served by srv and returns the host name.
func (w *world) add(domain string, srv *testsmtp.Server) string {
	w.n++
	host := "mx." + domain
	ip := netip.AddrFrom4([4]byte{127, 0, 1, byte(w.n)})
	w.res.MX[domain] = []*net.MX{{Host: host, Pref: 10}}
	w.res.IP[host] = []netip.Addr{ip}
	if srv != nil {
		w.router[netip.AddrPortFrom(ip, 25).String()] = srv
	}
	return host
}

func (w *world) verifier() *Verifier {
	v := &Verifier{Resolver: w.res, Dialer: w.router, AllowPrivate: true, HELO: "verifier.example.net",
		GreylistMaxWait: time.Nanosecond, CommandTimeout: 5 * time.Second}
	paced(v)
	return v
}

func standardWorld() *world {
	w := newWorld()
	w.add("example.com", testsmtp.Mailboxes("jane@example.com", "info@example.com", "jane+news@example.com"))
	w.add("catchall.com", &testsmtp.Server{})
	w.add("disabled.com", &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": acceptsPostmaster(reply(550, "5.2.1", "The email account that you tried to reach is disabled."))}})
	w.add("full.com", &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": acceptsPostmaster(reply(552, "5.2.2", "Mailbox full"))}})
	w.add("rejects.com", &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": reply(550, "", "Relaying denied")}})
	w.add("cannot.com", testsmtp.CannotVerify())
	w.add("grey.com", testsmtp.Greylist())
	w.add("ratelimit.com", &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": reply(450, "4.7.1", "Rate limit exceeded, slow down")}})
	w.add("tempfail.com", &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": reply(451, "4.3.0", "Temporary local problem")}})
	w.add("tarpit.com", testsmtp.Tarpit(time.Hour))
	w.add("closed.com", nil)
	w.add("blocked.com", testsmtp.Refused())
	w.add("garbage.com", &testsmtp.Server{Handlers: map[string]testsmtp.Handler{"RCPT": func(*testsmtp.Conn, testsmtp.Command) testsmtp.Reply {
		return testsmtp.Reply{Raw: "999 what\r\n"}
	}}})
	w.add("noutf8.com", &testsmtp.Server{Extensions: []string{"PIPELINING"}})
	w.add("gmial.com", &testsmtp.Server{})
	w.add("gmail.com", testsmtp.Mailboxes("jane@gmail.com"))
	w.res.MX["gmail.com"][0].Host = "gmail-smtp-in.l.google.com"
	w.res.IP["gmail-smtp-in.l.google.com"] = w.res.IP["mx.gmail.com"]
	w.add("yahoo.com", &testsmtp.Server{})
	w.res.MX["yahoo.com"][0].Host = "mta5.am0.yahoodns.net"
	w.res.IP["mta5.am0.yahoodns.net"] = w.res.IP["mx.yahoo.com"]
	w.res.MX["nullmx.com"] = []*net.MX{{Host: ".", Pref: 0}}
	w.res.MX["nomail.com"] = []*net.MX{}
	w.res.MX["private.com"] = []*net.MX{{Host: "mx.private.com", Pref: 10}}
	w.res.IP["mx.private.com"] = []netip.Addr{netip.MustParseAddr("10.0.0.25")}
	w.res.Errs["servfail.com"] = &net.DNSError{Err: "server misbehaving", Name: "servfail.com", IsTemporary: true}
	return w
}
