package verify

import "flag"

// The review of the pace's masking (see /work/notes/rev-pace.md): the
// soundness tests' worlds run at the rates they chose, where a wait for
// the pace may fall between a probe and the acceptances it would prove
// (answer.near), so evidence that would be wrong is never compared.
// -pace.rate and -pace.maxrcpts override the rate and MaxRcpts of the
// test worlds' verifiers (world.verifier and the tests that set them),
// so that the same hostile servers run where the waits fall elsewhere.
var (
	paceRateFlag = flag.Float64("pace.rate", 0, "override PerHostRate in the test worlds (0: as each test sets it)")
	paceMaxFlag  = flag.Int("pace.maxrcpts", 0, "override MaxRcpts in the test worlds (0: as each test sets it)")
)

// paced applies -pace.rate and -pace.maxrcpts to v.
func paced(v *Verifier) {
	if *paceRateFlag > 0 {
		v.PerHostRate = *paceRateFlag
	}
	if *paceMaxFlag > 0 {
		v.MaxRcpts = *paceMaxFlag
	}
}
