package smtpprobe

import "strings"

// Quirks are what a session learned about a server that later sessions to
// it should know from the start.
type Quirks struct {
	// RcptsPerConnection is how many recipients the server judges on one
	// connection (Exchange Online judges only the first); zero means no
	// limit seen.
	RcptsPerConnection int
	// NoPipelining: the server advertises PIPELINING but its replies fell
	// out of step with the commands.
	NoPipelining bool
	// OneDomainPerTx: the server refuses a recipient whose domain is not
	// the transaction's first (Google's "451 4.3.0 Multiple destination
	// domains per transaction is unsupported"); Probe then opens a new
	// transaction where the domain changes.
	OneDomainPerTx bool
}

// Quirks returns what the session learned about the server.
func (s *Session) Quirks() Quirks {
	return Quirks{RcptsPerConnection: s.perConn, NoPipelining: s.noPipe, OneDomainPerTx: s.oneDomain}
}

// SetQuirks tells the session what earlier sessions learned about the
// server, before its first Probe.
func (s *Session) SetQuirks(q Quirks) {
	s.perConn, s.noPipe = q.RcptsPerConnection, s.noPipe || q.NoPipelining
	s.oneDomain = s.oneDomain || q.OneDomainPerTx
}

// domainOf returns the domain of addr, the part after its last @.
func domainOf(addr string) string {
	return addr[strings.LastIndexByte(addr, '@')+1:]
}

// remember notes an address's local part for transcript redaction.
func (s *Session) remember(a string) {
	if i := strings.LastIndexByte(a, '@'); i > 0 && s.p.Transcript != nil && !s.p.ShowLocalParts {
		s.secret = append(s.secret, a[:i])
	}
}

// failedAll returns a Result for each address, all failed with err.
