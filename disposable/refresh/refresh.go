// Package refresh keeps a disposable list current: it fetches a list over
// HTTP, validates it and swaps it into a [disposable.Atomic], keeping the
// old list on any failure. It starts no goroutine: call [Refresher.Run]
// in one of yours, and cancel its context to stop it.
package refresh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/mailverify/mailverify/disposable"
)

// Validation failures; a Refresh that returns one left the old list in place.
var (
	ErrTooSmall  = errors.New("refresh: list too small")
	ErrLegit     = errors.New("refresh: list contains a legitimate provider")
	ErrTooLarge  = errors.New("refresh: list too large")
	ErrHTTP      = errors.New("refresh: unexpected HTTP status")
	ErrNoTarget  = errors.New("refresh: no Target")
	errNoURL     = errors.New("refresh: no URL")
	defaultLimit = int64(32 << 20)
)

// A Refresher fetches a list of disposable domains (one per line, as
// [disposable.Parse] reads) and installs it. A Refresher must not be
// changed after first use; Refresh may be called from several goroutines.
type Refresher struct {
	// URL is fetched with GET.
	URL string
	// Client does the fetching; nil means a client with a 60s timeout.
	Client *http.Client
	// Target receives the new list.
	Target *disposable.Atomic
	// MinEntries is the smallest list accepted: a truncated download or an
	// error page must not replace a real list. Zero means 10,000.
	MinEntries int
	// Legit lists domains that must not be on the new list; nil means
	// disposable.Legit(). A list that names gmail.com is broken, not news.
	Legit disposable.List
	// MaxBytes bounds the download; zero means 32 MiB.
	MaxBytes int64
}

func (r *Refresher) client() *http.Client {
	if r.Client != nil {
		return r.Client
	}
	return &http.Client{Timeout: time.Minute}
}

// Refresh fetches, parses and validates the list, and on success stores it
// in Target. On any failure Target keeps its list and the error says why.
func (r *Refresher) Refresh(ctx context.Context) error {
	switch {
	case r.Target == nil:
		return ErrNoTarget
	case r.URL == "":
		return errNoURL
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL, nil)
	if err != nil {
		return fmt.Errorf("refresh: %w", err)
	}
	resp, err := r.client().Do(req)
	if err != nil {
		return fmt.Errorf("refresh: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s from %s", ErrHTTP, resp.Status, r.URL)
	}
	limit := r.MaxBytes
	if limit <= 0 {
		limit = defaultLimit
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return fmt.Errorf("refresh: reading %s: %w", r.URL, err)
	}
	if int64(len(body)) > limit {
		return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	set, err := disposable.Parse(bytes.NewReader(body), fmt.Sprintf("disposable: %s, fetched %s", r.URL, time.Now().UTC().Format(time.RFC3339)))
	if err != nil {
		return fmt.Errorf("refresh: %w", err)
	}
	if err := r.validate(set); err != nil {
		return err
	}
	r.Target.Store(set)
	return nil
}

func (r *Refresher) validate(s *disposable.Set) error {
	min := r.MinEntries
	if min <= 0 {
		min = 10000
	}
	if s.Len() < min {
		return fmt.Errorf("%w: %d entries, want at least %d", ErrTooSmall, s.Len(), min)
	}
	legit := r.Legit
	if legit == nil {
		legit = disposable.Legit()
	}
	for d := range s.All() {
		if legit.Contains(d) {
			return fmt.Errorf("%w: %s", ErrLegit, d)
		}
	}
	return nil
}

// Run calls Refresh every interval until ctx ends, and returns ctx's
// error. Failures go to onError when it is not nil; the old list stays.
func (r *Refresher) Run(ctx context.Context, every time.Duration, onError func(error)) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := r.Refresh(ctx); err != nil && onError != nil && ctx.Err() == nil {
			onError(err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
