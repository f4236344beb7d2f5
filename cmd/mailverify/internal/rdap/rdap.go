// Package rdap asks an RDAP server (RFC 9082, RFC 9083) when a domain was
// registered, for the Verifier's new_domain flag.
package rdap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// A Client queries one RDAP service: a registry's server, or a
// redirecting service such as https://rdap.org that finds the registry
// (RFC 9224 bootstrap).
type Client struct {
	Base string       // "https://rdap.org"
	HTTP *http.Client // nil means one with a 10 s timeout
}

type domainReply struct {
	Events []struct {
		Action string    `json:"eventAction"`
		Date   time.Time `json:"eventDate"`
	} `json:"events"`
}

// Registered returns the domain's latest registration or re-registration
// date.
func (c *Client) Registered(ctx context.Context, domain string) (time.Time, error) {
	u := strings.TrimRight(c.Base, "/") + "/domain/" + url.PathEscape(strings.ToLower(domain))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return time.Time{}, err
	}
	req.Header.Set("Accept", "application/rdap+json")
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return time.Time{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return time.Time{}, fmt.Errorf("rdap: %s: %s", domain, resp.Status)
	}
	var d domainReply
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&d); err != nil {
		return time.Time{}, fmt.Errorf("rdap: %s: %w", domain, err)
	}
	var latest time.Time
	for _, e := range d.Events {
		if (e.Action == "registration" || e.Action == "reregistration") && e.Date.After(latest) {
			latest = e.Date
		}
	}
	if latest.IsZero() {
		return time.Time{}, errors.New("rdap: " + domain + ": no registration event")
	}
	return latest, nil
}
