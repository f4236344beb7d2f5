package egress

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
)

// A Profile is one provider's tolerance per egress, with where each number
// comes from. Provider is a name mx.ProviderOf yields, or "default".
type Profile struct {
	Provider string `json:"provider"`
	Limits
	// Sources says, per non-zero field of Limits (by its JSON name), where
	// the number comes from, or that it is a conservative guess.
	Sources map[string]string `json:"sources"`
}

// Profiles is a table of profiles, one per provider, with a "default"
// for providers it does not name (and servers of no known provider).
type Profiles struct {
	m map[string]Profile
}

//go:embed profiles.json
var embeddedProfiles []byte

var defaultProfiles = sync.OnceValue(func() *Profiles {
	p, err := ParseProfiles(strings.NewReader(string(embeddedProfiles)))
	if err != nil {
		panic("egress: embedded profiles.json: " + err.Error()) // a test guards it
	}
	return p
})

// DefaultProfiles returns the embedded table (profiles.json). It is shared:
// do not change it.
func DefaultProfiles() *Profiles { return defaultProfiles() }

// ErrProfiles reports an unusable profiles file.
var ErrProfiles = errors.New("egress: bad profiles")

// ParseProfiles reads a profiles table in the embedded file's format:
// {"profiles": [{"provider": "google", "per_minute": 20, "per_hour": 400,
// "per_day": 3000, "sessions": 3, "sources": {"per_minute": "...", ...}},
// ...]}. It must have a "default" profile, no provider twice, no negative
// number, and a source for every non-zero number. Unknown fields are
// errors, so a misspelt limit is not silently unlimited.
func ParseProfiles(r io.Reader) (*Profiles, error) {
	var f struct {
		About    string    `json:"about"`
		Profiles []Profile `json:"profiles"`
	}
	dec := json.NewDecoder(io.LimitReader(r, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProfiles, err)
	}
	p := &Profiles{m: map[string]Profile{}}
	for i, pr := range f.Profiles {
		pr.Provider = strings.ToLower(strings.TrimSpace(pr.Provider))
		if pr.Provider == "" {
			return nil, fmt.Errorf("%w: profile %d has no provider", ErrProfiles, i+1)
		}
		if _, dup := p.m[pr.Provider]; dup {
			return nil, fmt.Errorf("%w: provider %q twice", ErrProfiles, pr.Provider)
		}
		for name, v := range pr.fields() {
			if v < 0 {
				return nil, fmt.Errorf("%w: %s %s is negative", ErrProfiles, pr.Provider, name)
			}
			if v > 0 && strings.TrimSpace(pr.Sources[name]) == "" {
				return nil, fmt.Errorf("%w: %s %s = %d has no source (say \"conservative guess\" if it is one)", ErrProfiles, pr.Provider, name, v)
			}
		}
		p.m[pr.Provider] = pr
	}
	if _, ok := p.m["default"]; !ok {
		return nil, fmt.Errorf("%w: no \"default\" profile", ErrProfiles)
	}
	return p, nil
}

func (pr *Profile) fields() map[string]int {
	return map[string]int{"per_minute": pr.PerMinute, "per_hour": pr.PerHour, "per_day": pr.PerDay, "sessions": pr.Sessions}
}

// For returns the provider's profile, or the default one (with Provider
// still "default") for a provider the table does not name.
func (p *Profiles) For(provider string) Profile {
	if pr, ok := p.m[strings.ToLower(provider)]; ok {
		return pr
	}
	return p.m["default"]
}

// All returns the profiles sorted by provider.
func (p *Profiles) All() []Profile {
	out := make([]Profile, 0, len(p.m))
	for _, pr := range p.m {
		out = append(out, pr)
	}
	slices.SortFunc(out, func(a, b Profile) int { return strings.Compare(a.Provider, b.Provider) })
	return out
}
