package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestListPaged: GET /v1/jobs pages through the caller's jobs only,
// newest first.
func TestListPaged(t *testing.T) {
	tokens, err := NewTokens([]string{"0123456789abcdef-alpha", "0123456789abcdef-beta"})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(s *Server) { s.Tokens = tokens; s.Rate = -1 })
	alice := []string{"Authorization", "Bearer 0123456789abcdef-alpha"}
	bob := []string{"Authorization", "Bearer 0123456789abcdef-beta"}
	var made []string
	for i := range 7 {
		who := alice
		if i%3 == 2 {
			who = bob
		}
		resp, body := e.do("POST", "/v1/jobs", "text/plain", fmt.Sprintf("user%d@example.com\n", i), who...)
		var j struct{ ID string }
		if resp.StatusCode != 202 || json.Unmarshal([]byte(body), &j) != nil {
			t.Fatalf("POST: %d %s", resp.StatusCode, body)
		}
		if i%3 != 2 {
			made = append([]string{j.ID}, made...) // newest first
		}
	}
	var got []string
	path := "/v1/jobs?limit=2"
	for pages := 0; path != ""; pages++ {
		resp, body := e.do("GET", path, "", "", alice...)
		var page struct {
			Jobs []struct{ ID string }
			Next string
		}
		if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &page) != nil || len(page.Jobs) > 2 || pages > 5 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		for _, j := range page.Jobs {
			got = append(got, j.ID)
		}
		path = ""
		if page.Next != "" {
			path = "/v1/jobs?limit=2&after=" + page.Next
			if link := resp.Header.Get("Link"); !strings.Contains(link, page.Next) {
				t.Errorf("Link %q does not point at the next page", link)
			}
		}
	}
	if strings.Join(got, ",") != strings.Join(made, ",") {
		t.Errorf("alice's listing %v; want %v", got, made)
	}
	for _, q := range []string{"?limit=0", "?limit=5000", "?after=0123456789abcdef01234567", "?after=x"} {
		resp, body := e.do("GET", "/v1/jobs"+q, "", "", alice...)
		e.problemOf(resp, body, 400)
	}
}
