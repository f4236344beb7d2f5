package verify

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/mailverify/mailverify/internal/testsmtp"
	"github.com/mailverify/mailverify/mx"
	"github.com/mailverify/mailverify/mx/mxtest"
)

// server builds the host's scripted SMTP server; known are the mailboxes
// that exist (the truth). Whenever it answers about a mailbox (250, or a
// reply that names the mailbox, such as 5.1.1) it tells the truth; limits,
// policies and protections answer with generic or temporary replies, or
// accept everyone as a catch-all host does.
func (h hostSpec) server(known map[string]bool) *testsmtp.Server {
	var mu sync.Mutex
	rcpts := 0
	firstSeen := map[string]time.Time{}
	connRcpts := map[int]int{}
	perDomain := map[string]int{}            // soft limit per recipient domain
	unknown, connUnknown := 0, map[int]int{} // harvest: unknown recipients seen
	var harvested time.Time                  // harvest: when protection began; zero: not on
	honest := func(b behaviour, a string) testsmtp.Reply {
		switch {
		case b == catchAllHost || known[a]:
			return testsmtp.R(250, "2.1.5", "Ok")
		case b == strictVague:
			return testsmtp.R(550, "", "Rejected")
		}
		return testsmtp.R(550, "5.1.1", "<"+a+">: Recipient address rejected: User unknown")
	}
	greylist := func(a string) bool {
		t0, ok := firstSeen[a]
		if !ok {
			t0, firstSeen[a] = time.Now(), time.Now()
		}
		return time.Since(t0) < h.delay
	}
	rcpt := func(c *testsmtp.Conn, cmd testsmtp.Command) testsmtp.Reply {
		a := rcptAddress(cmd.Arg)
		mu.Lock()
		defer mu.Unlock()
		rcpts++
		connRcpts[c.Index]++
		switch h.b {
		case policyAll:
			return testsmtp.R(550, "", "Rejected")
		case blockAll:
			return testsmtp.R(554, "5.7.1", "Service unavailable; client host blocked using zen.spamhaus.org")
		case greylisting:
			if greylist(a) {
				return testsmtp.R(450, "4.2.0", h.greyText)
			}
			return honest(h.after, a)
		case probeGreylist:
			// A postgrey whose triplets for the real addresses passed
			// long ago.
			if !known[a] && greylist(a) {
				return testsmtp.R(450, "4.2.0", h.greyText)
			}
			return honest(h.after, a)
		case connCapVague:
			if h.perTx && c.Rcpts >= h.limit || !h.perTx && connRcpts[c.Index] >= h.limit {
				return testsmtp.R(550, "", "Rejected")
			}
			return honest(h.after, a)
		case harvest:
			switch {
			case h.perConn && connUnknown[c.Index] >= h.limit:
				return testsmtp.R(550, "", "Rejected")
			case !h.perConn && !harvested.IsZero():
				if h.block == 0 || time.Since(harvested) < h.block {
					return testsmtp.R(550, "", "Rejected")
				}
				harvested, unknown = time.Time{}, 0
			}
			if !known[a] {
				connUnknown[c.Index]++
				if unknown++; unknown >= h.limit && !h.perConn {
					harvested = time.Now()
				}
			}
			return honest(h.after, a)
		case softLimit:
			_, domain, _ := strings.Cut(a, "@")
			perDomain[domain]++
			n := []int{rcpts, connRcpts[c.Index], c.Rcpts + 1, perDomain[domain]}[h.scope]
			if n > h.limit {
				return testsmtp.R(250, "2.1.5", "Ok")
			}
			return honest(h.after, a)
		case banning:
			// A full ban refuses every RCPT (and MAIL FROM); a partial
			// one (a tenant's rule) every other, so that acceptances
			// follow its refusals in the same flush.
			if rcpts > h.limit && (h.permLim || rcpts%2 == 0) {
				return banReplies[rcpts/2%len(banReplies)]
			}
			return honest(h.after, a)
		case rcptLimit:
			if c.Rcpts >= h.limit {
				if h.permLim {
					return testsmtp.R(550, "", "Too many recipients")
				}
				return testsmtp.R(452, "4.5.3", "Too many recipients")
			}
		case firstRcptOnly:
			if connRcpts[c.Index] > 1 {
				return testsmtp.R(452, "4.5.3", "Too many recipients (AS780090)")
			}
		case rateLimited:
			if rcpts > h.limit {
				return testsmtp.R(450, "4.7.1", "Rate limit exceeded, slow down")
			}
		case extraReply:
			if rcpts%3 == 0 {
				r := honest(strict, a)
				return testsmtp.Reply{Raw: strings.ReplaceAll(fmt.Sprintf("%d %s %s\r\n", r.Code, r.Enhanced, r.Lines[0]), "  ", " ") + "550 5.1.1 stray reply\r\n"}
			}
		case dropper:
			if rcpts%4 == 0 {
				return testsmtp.Reply{Drop: true}
			}
		case slow:
			r := honest(strict, a)
			r.Delay = h.delay
			return r
		case closer:
			if connRcpts[c.Index] > h.limit {
				return testsmtp.R(421, "4.7.0", "Too many commands, closing")
			}
		case resetter:
			if rcpts%5 == 0 {
				r := honest(strict, a)
				r.Reset = true
				return r
			}
		case dripper:
			if rcpts%3 == 0 {
				r := honest(strict, a)
				r.Drip = 50 * time.Millisecond
				return r
			}
		case confused:
			if rcpts%4 == 0 {
				return testsmtp.R(503, "5.5.1", "Error: need MAIL command")
			}
		}
		return honest(strict, a)
	}
	handlers := map[string]testsmtp.Handler{"RCPT": rcpt}
	srv := &testsmtp.Server{Handlers: handlers}
	switch h.b {
	case flakyMail:
		mails, rsets := 0, 0
		handlers["MAIL"] = func(*testsmtp.Conn, testsmtp.Command) testsmtp.Reply {
			mu.Lock()
			defer mu.Unlock()
			if mails++; mails%3 == 0 {
				return testsmtp.R(451, "4.3.0", "Temporary failure, try later")
			}
			return testsmtp.R(250, "2.1.0", "Ok")
		}
		handlers["RSET"] = func(*testsmtp.Conn, testsmtp.Command) testsmtp.Reply {
			mu.Lock()
			defer mu.Unlock()
			if rsets++; rsets%4 == 0 {
				return testsmtp.R(502, "5.5.1", "RSET not implemented")
			}
			return testsmtp.R(250, "2.0.0", "Ok")
		}
	case earlyTalker:
		handlers["EHLO"] = func(*testsmtp.Conn, testsmtp.Command) testsmtp.Reply {
			return testsmtp.Reply{Raw: "250-talker\r\n250 PIPELINING\r\n250 2.0.0 Ok\r\n"}
		}
	case banning:
		handlers["MAIL"] = func(*testsmtp.Conn, testsmtp.Command) testsmtp.Reply {
			mu.Lock()
			defer mu.Unlock()
			if rcpts > h.limit && h.permLim {
				return testsmtp.R(550, "5.7.1", "Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org")
			}
			return testsmtp.R(250, "2.1.0", "Ok")
		}
	case bannerRefused:
		srv.Banner = testsmtp.R(554, "5.7.1", "Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org")
	case bannerBusy:
		srv.Banner = testsmtp.R(421, "4.7.0", "Too many connections from your address, try again later")
	}
	srv.OneCommandPerRead = h.b == brokenPipe
	return srv
}

// banReplies are a banning host's RCPT replies once it banned us: block
// texts, some under a mailbox code (servers code them as they please).
var banReplies = []testsmtp.Reply{
	testsmtp.R(550, "5.1.1", "Client host [192.0.2.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1"),
	testsmtp.R(550, "5.7.1", "Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150)."),
	testsmtp.R(550, "", "5.7.606 Access denied, banned sending IP [192.0.2.1]"),
	// Outlook's S3150 without its usual wording: only package egress
	// knows the code for a block.
	testsmtp.R(550, "", "Unfortunately, messages from [192.0.2.1] weren't sent (S3150)."),
}

func rcptAddress(arg string) string {
	_, rest, _ := strings.Cut(arg, "<")
	a, _, _ := strings.Cut(rest, ">")
	return strings.ToLower(a)
}

// hangingResolver is DNS that never answers for some names: a query for
// one of them waits until its context is done, then fails as a timeout.
// Other names get the map's answers.
type hangingResolver struct {
	*mxtest.Resolver
	hang map[string]bool
}

var _ mx.Resolver = (*hangingResolver)(nil)

func (r *hangingResolver) wait(ctx context.Context, name string) error {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if !r.hang[name] {
		return nil
	}
	<-ctx.Done()
	return &net.DNSError{Err: "i/o timeout", Name: name, IsTimeout: true, IsTemporary: true, UnwrapErr: ctx.Err()}
}

func (r *hangingResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	if err := r.wait(ctx, name); err != nil {
		return nil, err
	}
	return r.Resolver.LookupMX(ctx, name)
}

func (r *hangingResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if err := r.wait(ctx, host); err != nil {
		return nil, err
	}
	return r.Resolver.LookupNetIP(ctx, network, host)
}
