package verify

// The defaults of the Verifier's politeness fields (their zero values).
const (
	defaultPerHost     = 2
	defaultPerHostRate = 10
	defaultConcurrency = 16
	defaultMaxRcpts    = 20
)

// Limits are the politeness limits a Verifier keeps, its defaults filled
// in: what a service shows its users (how long a list will take) without
// repeating the defaults.
type Limits struct {
	PerHost     int     // sessions at once to one mail server address
	PerHostRate float64 // RCPT commands a second to one mail server address
	Concurrency int     // sessions at once in all
	MaxRcpts    int     // recipients in one transaction
}

// Limits returns the limits v keeps; a nil *Verifier has the defaults.
func (v *Verifier) Limits() Limits {
	if v == nil {
		v = new(Verifier)
	}
	return Limits{
		PerHost:     orDefault(v.PerHost, defaultPerHost),
		PerHostRate: orDefault(v.PerHostRate, defaultPerHostRate),
		Concurrency: orDefault(v.Concurrency, defaultConcurrency),
		MaxRcpts:    orDefault(v.MaxRcpts, defaultMaxRcpts),
	}
}
