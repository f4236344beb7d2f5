package refresh

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mailverify/mailverify/disposable"
)

func list(n int, extra ...string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "throwaway%d.example\n", i)
	}
	for _, e := range extra {
		b.WriteString(e + "\n")
	}
	return b.String()
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	bodies := map[string]string{
		"/good":      list(20, "fresh-temp.example"),
		"/small":     list(3),
		"/legit":     list(20, "gmail.com"),
		"/garbage":   "<html>not a list</html>\n",
		"/huge":      list(5000),
		"/subdomain": list(20, "x.outlook.com"),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := bodies[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(b))
	}))
	defer srv.Close()

	old := disposable.New("old", "old-temp.example")
	target := disposable.NewAtomic(old)
	for _, tc := range []struct {
		path string
		max  int64
		want error
	}{
		{"/small", 0, ErrTooSmall},
		{"/legit", 0, ErrLegit},
		{"/subdomain", 0, ErrLegit},
		{"/garbage", 0, nil},
		{"/missing", 0, ErrHTTP},
		{"/huge", 1000, ErrTooLarge},
	} {
		r := &Refresher{URL: srv.URL + tc.path, Target: target, MinEntries: 10, MaxBytes: tc.max}
		err := r.Refresh(t.Context())
		if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.path, err, tc.want)
		}
		if target.Load() != old {
			t.Fatalf("%s: the old list was replaced after a failure", tc.path)
		}
	}
	r := &Refresher{URL: srv.URL + "/good", Target: target, MinEntries: 10}
	if err := r.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !target.Contains("fresh-temp.example") || target.Contains("old-temp.example") || !strings.Contains(target.String(), srv.URL) {
		t.Errorf("after refresh: %s", target.String())
	}
	if err := (&Refresher{URL: srv.URL}).Refresh(t.Context()); !errors.Is(err, ErrNoTarget) {
		t.Errorf("no target: %v", err)
	}
}

func TestRunStopsWithContext(t *testing.T) {
	t.Parallel()
	calls := make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls <- struct{}{}
		w.Write([]byte(list(3)))
	}))
	defer srv.Close()
	target := disposable.NewAtomic(disposable.New("old", "a.example"))
	r := &Refresher{URL: srv.URL, Target: target, MinEntries: 10}
	ctx, cancel := context.WithCancel(t.Context())
	errs := make(chan error, 10)
	done := make(chan error)
	go func() { done <- r.Run(ctx, time.Hour, func(err error) { errs <- err }) }()
	<-calls
	if err := <-errs; !errors.Is(err, ErrTooSmall) {
		t.Errorf("onError got %v", err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v", err)
	}
	if target.Load().String() != "old" {
		t.Error("a failed refresh replaced the list")
	}
}
