package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/mailverify/mailverify/internal/input"
	"github.com/mailverify/mailverify/verify"
)

// background bounds a verification that outlives its request.
const background = 2 * time.Minute

type verifyRequest struct {
	Address    *string `json:"address"`
	TimeoutMS  int     `json:"timeout_ms"`
	Transcript bool    `json:"transcript"`
}

// decodeJSON reads one JSON object of at most limit bytes, strictly.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("more than one JSON value in the body")
	}
	return nil
}

func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	if !jsonBody(r) {
		needJSON(w)
		return
	}
	var req verifyRequest
	if err := decodeJSON(w, r, 64<<10, &req); err != nil {
		status, kind := http.StatusBadRequest, "bad-request"
		if tooLarge(err) {
			status, kind = http.StatusRequestEntityTooLarge, "too-large"
		}
		writeProblem(w, status, kind, "the body must be {\"address\": \"...\", \"timeout_ms\": N}: "+err.Error())
		return
	}
	maxBudget := s.MaxVerifyBudget
	if maxBudget <= 0 {
		maxBudget = time.Minute
	}
	budget := 10 * time.Second
	switch {
	case req.Address == nil:
		writeProblem(w, http.StatusUnprocessableEntity, "invalid-field", "address is required")
		return
	case len(*req.Address) > 1024:
		writeProblem(w, http.StatusUnprocessableEntity, "invalid-field", "address is longer than 1024 bytes")
		return
	case req.TimeoutMS < 0 || time.Duration(req.TimeoutMS)*time.Millisecond > maxBudget:
		writeProblem(w, http.StatusUnprocessableEntity, "invalid-field", fmt.Sprintf("timeout_ms must be between 1 and %d", maxBudget.Milliseconds()))
		return
	case req.TimeoutMS > 0:
		budget = time.Duration(req.TimeoutMS) * time.Millisecond
	}
	addr := input.Clean(*req.Address)
	c := s.cache.do(addr, func() (verify.Result, error) {
		ctx, cancel := context.WithTimeout(context.Background(), background)
		defer cancel()
		res, err := s.Verifier.Verify(ctx, addr)
		if err == nil {
			s.Metrics.result(res.Status.String(), string(res.Reason))
		}
		return res, err
	})
	t := time.NewTimer(budget)
	defer t.Stop()
	var res verify.Result
	select {
	case <-c.done:
		if c.err != nil {
			writeProblem(w, http.StatusInternalServerError, "verifier", c.err.Error())
			return
		}
		res = c.res
		res.Input = *req.Address
		if !req.Transcript {
			res.Transcript = nil
		}
	case <-t.C:
		res = verify.Result{Input: *req.Address, Status: verify.Unknown, Reason: verify.ReasonTimeout,
			RetryAfter: verify.Seconds(5 * time.Second), Duration: verify.Millis(budget),
			Error: "still verifying past the budget; ask again after retry_after for the result"}
	case <-r.Context().Done():
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(res.AppendJSON(nil), '\n'))
}

// resultCache remembers recent single verifications, and the ones still
// running, so that a repeat is answered from it.
type resultCache struct {
	max int
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]*call
}

type call struct {
	done    chan struct{}
	res     verify.Result
	err     error
	expires time.Time // zero while running
}

func newResultCache(max int, ttl time.Duration) *resultCache {
	return &resultCache{max: max, ttl: ttl, m: map[string]*call{}}
}

// do returns the call for key: a fresh result, the one running, or a new
// one running f.
func (c *resultCache) do(key string, f func() (verify.Result, error)) *call {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.m[key]; ok && (cl.expires.IsZero() || now.Before(cl.expires)) {
		return cl
	}
	if len(c.m) >= c.max {
		for k, cl := range c.m { // drop the expired, or else some finished
			if !cl.expires.IsZero() && (now.After(cl.expires) || len(c.m) >= c.max) {
				delete(c.m, k)
			}
		}
	}
	cl := &call{done: make(chan struct{})}
	c.m[key] = cl
	go func() {
		res, err := f()
		c.mu.Lock()
		cl.res, cl.err = res, err
		cl.expires = time.Now().Add(c.ttl)
		if err != nil || res.Status == verify.Unknown {
			cl.expires = time.Now().Add(min(c.ttl, time.Minute)) // worth asking again soon
		}
		c.mu.Unlock()
		close(cl.done)
	}()
	return cl
}

func tooLarge(err error) bool {
	var mb *http.MaxBytesError
	return errors.As(err, &mb)
}
