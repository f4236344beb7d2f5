package refresh_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/mailverify/mailverify/disposable"
	"github.com/mailverify/mailverify/disposable/refresh"
)

// A Refresher fetches a list and swaps it into the Atomic that the
// Verifier reads, while it is in use.
func ExampleRefresher() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "throwaway.example\ntempmail.example")
	}))
	defer srv.Close()
	list := &disposable.Atomic{}
	r := &refresh.Refresher{URL: srv.URL, Target: list, MinEntries: 2}
	if err := r.Refresh(context.Background()); err != nil {
		panic(err)
	}
	fmt.Println(list.Contains("tempmail.example"), list.Contains("gmail.com"))
	// Output: true false
}
