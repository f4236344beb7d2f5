package verify

import (
	"context"
	"errors"

	"github.com/mailverify/mailverify/mx"
	"github.com/mailverify/mailverify/smtpprobe"
)

// open connects to the first reachable address of host, within that
// address's serverLimit (sessions, and the RCPT pace of every flush);
// release frees the session's place after it closes.
func (v *Verifier) open(ctx context.Context, h mx.Host, conv *convLog, pc *pacer) (s *smtpprobe.Session, addr string, release func(), err error) {
	for _, ip := range h.Addrs {
		addr = v.dialAddr(ip.String())
		// The server's session slot (local) before the egress lease
		// (cluster-wide where the store is shared): a lease held while
		// this process waits for its own slot would keep a session from
		// every other worker for nothing.
		lim := v.server(addr).limit
		if err = lim.sessions.Acquire(ctx, 1); err != nil {
			return nil, addr, nil, err
		}
		lease, eg, lerr := v.leaseFor(ctx, h, addr) // egress.go
		if lerr != nil {
			lim.sessions.Release(1)
			return nil, addr, nil, lerr
		}
		p := v.prober()
		if conv != nil {
			// The lines with their recipients, for each Result its own.
			p.TranscriptFunc = conv.add
		}
		if v.tap != nil {
			// The session redacts the local parts it probed; redactTo every
			// other, such as one a server's reply names.
			p.Transcript = &redactTo{w: v.tap}
		}
		pc.lim = lim
		p.Pace = pc.pace // every RCPT the server sees counts
		v.dress(p, pc, lease, h, eg)
		s, err = p.Open(ctx, h.Name, addr)
		if err == nil {
			return s, addr, v.bind(s, lease, h.Name, func() { lim.sessions.Release(1) }), nil
		}
		lim.sessions.Release(1)
		releaseLease(lease)
		var re *smtpprobe.ReplyError
		if errors.As(err, &re) || ctx.Err() != nil {
			return nil, addr, nil, err // the server answered: its other addresses will too
		}
	}
	if err == nil {
		err = errors.New("verify: no address for " + h.Name)
	}
	return nil, addr, nil, err
}

func (v *Verifier) prober() *smtpprobe.Prober {
	from, _ := v.mailFrom() // Validate has checked it
	return &smtpprobe.Prober{
		Dialer: v.Dialer, HELO: v.HELO, MailFrom: from, TLS: v.TLS,
		ConnectTimeout: v.ConnectTimeout, CommandTimeout: v.CommandTimeout,
		MaxRcpts: v.MaxRcpts, PipelineBatch: batchSize, Logger: v.Logger,
	}
}
