package testsmtp

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// address extracts the address from a "TO:<a@b> PARAMS" argument.
func address(arg string) string {
	_, rest, _ := strings.Cut(arg, ":")
	rest = strings.TrimSpace(rest)
	if i := strings.IndexByte(rest, '>'); strings.HasPrefix(rest, "<") && i > 0 {
		return strings.ToLower(rest[1:i])
	}
	return strings.ToLower(rest)
}

// set returns the addresses, lower case, as a set.
func set(addrs []string) map[string]bool {
	known := map[string]bool{}
	for _, a := range addrs {
		known[strings.ToLower(a)] = true
	}
	return known
}

// Mailboxes accepts the listed recipients (and postmaster@ any domain, as
// RFC 5321 asks) and rejects the others with
// Postfix's 550 5.1.1 "User unknown".
func Mailboxes(addrs ...string) *Server {
	known := set(addrs)
	return &Server{Handlers: map[string]Handler{"RCPT": func(c *Conn, cmd Command) Reply {
		a := address(cmd.Arg)
		if known[a] || strings.HasPrefix(strings.ToLower(a), "postmaster@") { // RFC 5321, 4.5.1
			return R(250, "2.1.5", "Ok")
		}
		return R(550, "5.1.1", "<"+a+">: Recipient address rejected: User unknown in virtual mailbox table")
	}}}
}

// Greylist answers the first RCPT for each recipient with postgrey's 450
// 4.2.0 and accepts it from then on, on any connection.
func Greylist() *Server {
	var mu sync.Mutex
	seen := map[string]bool{}
	return &Server{Handlers: map[string]Handler{"RCPT": func(c *Conn, cmd Command) Reply {
		a := address(cmd.Arg)
		mu.Lock()
		defer mu.Unlock()
		if seen[a] {
			return R(250, "2.1.5", "Ok")
		}
		seen[a] = true
		return R(450, "4.2.0", "<"+a+">: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.test.html")
	}}}
}

// GreylistFor answers the first RCPT for each recipient with 450 4.2.0
// and the delay stated in the reply ("try again in secs seconds"), and
// from then on as Mailboxes(known) does, on any connection.
func GreylistFor(secs int, known ...string) *Server {
	inner := Mailboxes(known...).Handlers["RCPT"]
	unit := "seconds"
	if secs == 1 {
		unit = "second"
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	return &Server{Handlers: map[string]Handler{"RCPT": func(c *Conn, cmd Command) Reply {
		a := address(cmd.Arg)
		mu.Lock()
		first := !seen[a]
		seen[a] = true
		mu.Unlock()
		if first {
			return R(450, "4.2.0", fmt.Sprintf("Recipient address rejected: Greylisted, try again in %d %s", secs, unit))
		}
		return inner(c, cmd)
	}}}
}

// CannotVerify answers every RCPT with 252, as servers that will not
// disclose their mailboxes do.
func CannotVerify() *Server {
	return &Server{Handlers: map[string]Handler{"RCPT": func(c *Conn, cmd Command) Reply {
		return R(252, "2.1.5", "Cannot VRFY user, but will accept message and attempt delivery")
	}}}
}

// TooManyRecipients accepts n recipients per transaction, then answers
// 452 4.5.3 as Microsoft 365 does.
func TooManyRecipients(n int) *Server {
	return &Server{Handlers: map[string]Handler{"RCPT": func(c *Conn, cmd Command) Reply {
		if c.Rcpts >= n {
			return R(452, "4.5.3", "Too many recipients")
		}
		return R(250, "2.1.5", "Ok")
	}}}
}

// Refused greets with 554 (RFC 5321 section 3.1), as a server that blocks
// the client's address does.
func Refused() *Server {
	return &Server{Banner: R(554, "5.7.1", "Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org")}
}

// CloseAfter accepts n recipients per connection, then answers 421 and
// closes the connection.
func CloseAfter(n int) *Server {
	counts := map[int]int{}
	var mu sync.Mutex
	return &Server{Handlers: map[string]Handler{"RCPT": func(c *Conn, cmd Command) Reply {
		mu.Lock()
		defer mu.Unlock()
		counts[c.Index]++
		if counts[c.Index] > n {
			return R(421, "4.7.0", "testsmtp Error: too many connections from your address; try again later")
		}
		return R(250, "2.1.5", "Ok")
	}}}
}

// Postfix rejects unknown recipients like Mailboxes and applies Postfix's
// default error limits: after 10 errors it sleeps 1s before each reply,
// after 20 it disconnects.
func Postfix(addrs ...string) *Server {
	s := Mailboxes(addrs...)
	s.SoftErrorLimit, s.HardErrorLimit, s.ErrorSleep = 10, 20, time.Second
	return s
}

// Tarpit delays the banner and every reply by d.
func Tarpit(d time.Duration) *Server {
	return &Server{Banner: Reply{Code: 220, Lines: []string{"slow ESMTP"}, Delay: d}, ReplyDelay: d}
}

// FirstRcptOnly accepts the first recipient of each connection and
// answers every later one, even in a new transaction, with 452 4.5.3, as
// Exchange Online does to clients it judges on their first recipient.
// Known recipients are listed; nil means every recipient exists.
func FirstRcptOnly(addrs ...string) *Server {
	known := set(addrs)
	var mu sync.Mutex
	judged := map[int]bool{}
	return &Server{Handlers: map[string]Handler{"RCPT": func(c *Conn, cmd Command) Reply {
		mu.Lock()
		defer mu.Unlock()
		if judged[c.Index] {
			return R(452, "4.5.3", "Too many recipients (AS780090)")
		}
		judged[c.Index] = true
		if len(known) == 0 || known[address(cmd.Arg)] {
			return R(250, "2.1.5", "Recipient OK")
		}
		return R(550, "5.1.10", "RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup")
	}}}
}

// RcptLimit accepts every recipient up to n per transaction and refuses
// the rest with a permanent reply, as servers with a hard recipient limit
// do.
func RcptLimit(n int) *Server {
	return &Server{Handlers: map[string]Handler{"RCPT": func(c *Conn, cmd Command) Reply {
		if c.Rcpts >= n {
			return R(550, "5.5.3", "Too many recipients")
		}
		return R(250, "2.1.5", "Ok")
	}}}
}
