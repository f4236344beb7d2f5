package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/mailverify/mailverify/service"
	"github.com/mailverify/mailverify/verify"
)

// The service in a program of your own: an embedded NATS server storing
// in a directory, the scheduler and a worker run by Run, and the API
// mounted under /mailverify/ of your mux (the page wants the root of its
// host: see Service.Handler).
func Example() {
	dir, err := os.MkdirTemp("", "mailverify-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := service.New(ctx, service.Config{
		DataDir: dir,
		NewVerifier: func() (*verify.Verifier, error) {
			return &verify.Verifier{HELO: "mx.yourdomain.example"}, nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	mux := http.NewServeMux()
	mux.Handle("/mailverify/", http.StripPrefix("/mailverify", s.Handler()))
	srv := httptest.NewServer(mux)
	resp, err := http.Post(srv.URL+"/mailverify/v1/verify", "application/json",
		strings.NewReader(`{"address": "jane@@example.com"}`))
	if err != nil {
		log.Fatal(err)
	}
	var r struct{ Status, Reason string }
	err = json.NewDecoder(resp.Body).Decode(&r)
	resp.Body.Close()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.StatusCode, r.Status, r.Reason)

	srv.Close() // stop serving first, then the jobs
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		log.Fatal(err)
	}
	// Output: 200 undeliverable invalid_syntax
}

// A worker on another machine, probing for a cluster: it needs the
// cluster's URL. (Not run: it needs a NATS cluster.)
func ExampleNewWorker() {
	ctx := context.Background()
	w, err := service.NewWorker(ctx, service.Config{
		NATS: "nats://n1:4222,nats://n2:4222,nats://n3:4222",
		NewVerifier: func() (*verify.Verifier, error) {
			return &verify.Verifier{HELO: "mx1.yourdomain.example"}, nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	http.Handle("GET /metrics", w.MetricsHandler())
	if err := w.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
