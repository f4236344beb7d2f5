package main

import (
	"fmt"
	"io"

	"github.com/mailverify/mailverify/mx"
	"github.com/mailverify/mailverify/verify"
)

// dnsSummary writes, beside the other end-of-run summaries, what the
// run's stub resolver did: the tries it sent, those that got no answer in
// time, the retries, and the tries that waited for a place because
// mx.DNS.MaxInFlight queries were in flight. Nothing when it asked
// nothing.
func dnsSummary(w io.Writer, v *verify.Verifier) {
	d, ok := v.Resolver.(*mx.DNS)
	if !ok {
		return
	}
	st := d.Stats()
	if st.Queries == 0 {
		return
	}
	fmt.Fprintf(w, "mailverify: DNS: %d queries, %d timed out, %d retries, %d waited for a place in flight\n",
		st.Queries, st.Timeouts, st.Retries, st.Waits)
}
