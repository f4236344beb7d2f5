package rdap

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestRegistered(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/domain/young.example":
			w.Header().Set("Content-Type", "application/rdap+json")
			_, _ = w.Write([]byte(`{"objectClassName":"domain","ldhName":"young.example","events":[
				{"eventAction":"registration","eventDate":"2019-03-01T00:00:00Z"},
				{"eventAction":"reregistration","eventDate":"2026-11-20T12:00:00Z"},
				{"eventAction":"expiration","eventDate":"2027-11-20T12:00:00Z"}]}`))
		case "/domain/noevents.example":
			_, _ = w.Write([]byte(`{"events":[]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c := &Client{Base: srv.URL + "/"}
	got, err := c.Registered(context.Background(), "Young.Example")
	if want := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC); err != nil || !got.Equal(want) {
		t.Errorf("Registered = %v, %v; want the re-registration %v", got, err, want)
	}
	for _, d := range []string{"noevents.example", "missing.example"} {
		if _, err := c.Registered(context.Background(), d); err == nil {
			t.Errorf("%s: no error", d)
		}
	}
}
