package api

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Tokens are the bearer tokens the API accepts, read from a file of one
// token per line (blank lines and # comments skipped).
type Tokens struct{ hashes [][32]byte }

// ReadTokens parses a token file.
func ReadTokens(r io.Reader) (*Tokens, error) {
	list, err := ReadTokenList(r)
	if err != nil {
		return nil, err
	}
	return NewTokens(list)
}

// ReadTokenList returns the tokens of a token file, unchecked.
func ReadTokenList(r io.Reader) ([]string, error) {
	var list []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		list = append(list, line)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, errors.New("the token file has no tokens")
	}
	return list, nil
}

// NewTokens takes the tokens themselves, each at least 16 characters.
func NewTokens(list []string) (*Tokens, error) {
	t := &Tokens{}
	for _, tok := range list {
		if len(tok) < 16 {
			return nil, fmt.Errorf("a token of %d characters; use at least 16", len(tok))
		}
		t.hashes = append(t.hashes, sha256.Sum256([]byte(tok)))
	}
	if len(t.hashes) == 0 {
		return nil, errors.New("no tokens")
	}
	return t, nil
}

// owner returns who a request is: a short hash of its token, "" without
// auth. ok is false for a missing or wrong token.
func (t *Tokens) owner(r *http.Request) (string, bool) {
	if t == nil {
		return "", true
	}
	scheme, tok, found := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") { // RFC 9110: the scheme is case-insensitive
		return "", false
	}
	h := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	match := 0
	for _, k := range t.hashes {
		match |= subtle.ConstantTimeCompare(h[:], k[:])
	}
	if match == 0 {
		return "", false
	}
	return hex.EncodeToString(h[:8]), true
}

// limiters rate-limits per owner.
type limiters struct {
	every rate.Limit
	burst int
	mu    sync.Mutex
	m     map[string]*rate.Limiter
}

func (l *limiters) allow(owner string) (bool, time.Duration) {
	if l == nil || l.every <= 0 {
		return true, 0
	}
	l.mu.Lock()
	lim, ok := l.m[owner]
	if !ok {
		if len(l.m) > 10000 {
			clear(l.m)
		}
		lim = rate.NewLimiter(l.every, l.burst)
		l.m[owner] = lim
	}
	l.mu.Unlock()
	res := lim.Reserve()
	if d := res.Delay(); d > 0 {
		res.Cancel()
		return false, d
	}
	return true, 0
}
