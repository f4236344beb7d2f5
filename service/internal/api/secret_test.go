package api

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
)

func TestWebhookSecretEndpoint(t *testing.T) {
	tokens, err := NewTokens([]string{"0123456789abcdef-alpha", "0123456789abcdef-beta"})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(s *Server) { s.Tokens = tokens })
	secret := func(tok string) string {
		resp, body := e.do("GET", "/v1/webhook-secret", "", "", "Authorization", "Bearer "+tok)
		var v struct{ Secret string }
		if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &v) != nil || v.Secret == "" {
			t.Fatalf("GET /v1/webhook-secret: %d %s", resp.StatusCode, body)
		}
		return v.Secret
	}
	a, b := secret("0123456789abcdef-alpha"), secret("0123456789abcdef-beta")
	if a == b {
		t.Errorf("two tokens share the webhook secret %q", a)
	}
	owner, _ := tokens.owner(authorized("0123456789abcdef-alpha"))
	if want, _ := e.bus.WebhookSecret(context.Background(), owner); a != want {
		t.Errorf("shown %q; the bus signs with %q", a, want)
	}
	resp, body := e.do("GET", "/v1/webhook-secret", "", "")
	e.problemOf(resp, body, 401)

	given := newEnv(t, func(s *Server) { s.WebhookSecretGiven = true })
	resp, body = given.do("GET", "/v1/webhook-secret", "", "")
	given.problemOf(resp, body, 404)
}

func authorized(tok string) *http.Request {
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}
