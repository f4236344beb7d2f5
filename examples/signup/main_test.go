package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/mailverify/mailverify/verify"
)

func TestHandlerCheapLayers(t *testing.T) {
	// An offline Verifier keeps the test off the network; the cheap layers
	// decide every case here.
	h := handler(&verify.Verifier{Offline: true})
	for email, want := range map[string]struct {
		ok      bool
		message string
	}{
		"jane@gmial.com":      {true, "Did you mean jane@gmail.com?"},
		"jane@mailinator.com": {false, "Please use a permanent address."},
		"not an address":      {false, "This address cannot receive mail."},
		"jane@example.org":    {true, ""},
	} {
		req := httptest.NewRequest(http.MethodPost, "/check", strings.NewReader(url.Values{"email": {email}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var a answer
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
			t.Fatalf("%s: %v: %s", email, err, rec.Body)
		}
		if a.OK != want.ok || a.Message != want.message {
			t.Errorf("%s: ok=%v message=%q, want %v %q", email, a.OK, a.Message, want.ok, want.message)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/check", nil))
	if rec.Code != http.StatusBadRequest {
		t.Errorf("missing email: %d", rec.Code)
	}
}
