// Command signup serves a sign-up form check: POST /check with form field
// "email" answers JSON {"ok": bool, "message": ..., "result": ...}.
//
// It runs the cheap layers first (syntax, disposable, typo) with no
// network, answers at once when they decide, and gives the SMTP probe a
// 3-second budget otherwise. Only a definite "undeliverable" blocks the
// sign-up: unknown and risky verdicts let the user through, because
// the protocol often cannot tell (catch-all domains, greylisting, port 25
// blocked on the server running this).
//
//	go run ./examples/signup -addr 127.0.0.1:8080
//	curl -d email=jane@gmial.com 127.0.0.1:8080/check
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"time"

	"github.com/mailverify/mailverify/verify"
)

// budget is the time a sign-up form can wait.
const budget = 3 * time.Second

type answer struct {
	OK      bool           `json:"ok"`
	Message string         `json:"message,omitempty"`
	Result  *verify.Result `json:"result,omitempty"`
}

// handler checks addresses with v. The cheap pass uses an offline copy of
// v; the full pass uses v itself under the time budget.
func handler(v *verify.Verifier) http.Handler {
	offline := &verify.Verifier{Syntax: v.Syntax, Disposable: v.Disposable, Free: v.Free, Relays: v.Relays, Offline: true}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		email := r.FormValue("email")
		if email == "" || len(email) > 1024 {
			http.Error(w, `{"ok":false,"message":"email is required"}`, http.StatusBadRequest)
			return
		}
		res, err := offline.Verify(r.Context(), email)
		if err == nil && res.Reason == verify.ReasonSMTPNotChecked {
			ctx, cancel := context.WithTimeout(r.Context(), budget)
			res, err = v.Verify(ctx, email)
			cancel()
		}
		if err != nil {
			http.Error(w, `{"ok":false,"message":"request cancelled"}`, http.StatusServiceUnavailable)
			return
		}
		a := answer{OK: res.Status != verify.Undeliverable && res.Reason != verify.ReasonDisposable, Result: &res}
		switch {
		case res.Suggestion != "":
			a.Message = "Did you mean " + res.Local + "@" + res.Suggestion + "?"
		case res.Reason == verify.ReasonDisposable:
			a.Message = "Please use a permanent address."
		case res.Status == verify.Undeliverable:
			a.Message = "This address cannot receive mail."
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(a)
	})
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	helo := flag.String("helo", "", "HELO name whose PTR matches this machine's IP")
	flag.Parse()
	mux := http.NewServeMux()
	mux.Handle("POST /check", handler(&verify.Verifier{HELO: *helo}))
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Printf("listening on %s", *addr)
	log.Fatal(srv.ListenAndServe())
}
