package smtpprobe

import (
	"crypto/tls"
	"maps"
	"strings"
)

// What a session has seen of its server and of its own work.

// Banner returns the greeting of the current connection.
func (s *Session) Banner() Reply { return s.banner }

// Extension reports whether the server advertised the EHLO keyword (such
// as "PIPELINING" or "SMTPUTF8") and its parameters.
func (s *Session) Extension(name string) (string, bool) {
	v, ok := s.ext[strings.ToUpper(name)]
	return v, ok
}

// Extensions returns the EHLO keywords the server advertised, upper case,
// with their parameters.
func (s *Session) Extensions() map[string]string { return maps.Clone(s.ext) }

// TLS returns the TLS state when STARTTLS is in force, or nil.
func (s *Session) TLS() *tls.ConnectionState { return s.tls }

// Connections returns how many connections the session has made.
func (s *Session) Connections() int { return s.conns }

// Flushes returns how many writes of commands the session has made: the
// latest Result.Flush. A Prober.Pace called from the session sees the
// count before the flush it paces.
func (s *Session) Flushes() int { return s.writes }
