package smtpprobe

import (
	"context"
	"log/slog"
	"strings"
)

// Log keys. Records name the domain and the MX host, never the local part:
// addresses are personal data.
const (
	logHost    = "mx_host"
	logAddr    = "mx_addr"
	logDomain  = "domain"
	logOutcome = "outcome"
	logCode    = "code"
	logTLS     = "tls"
	logConn    = "connection"
)

func (s *Session) logOpen(ctx context.Context) {
	s.p.logger().LogAttrs(ctx, slog.LevelDebug, "smtp session ready",
		slog.String(logHost, s.host), slog.String(logAddr, s.address),
		slog.Bool(logTLS, s.tls != nil), slog.Int(logConn, s.conns))
}

func (s *Session) logRcpt(ctx context.Context, r Result) {
	code := 0
	if r.Reply != nil {
		code = r.Reply.Code
	}
	domain := r.Address[strings.LastIndexByte(r.Address, '@')+1:]
	s.p.logger().LogAttrs(ctx, slog.LevelDebug, "rcpt probed",
		slog.String(logHost, s.host), slog.String(logDomain, domain),
		slog.String(logOutcome, r.Outcome.String()), slog.Int(logCode, code))
}
