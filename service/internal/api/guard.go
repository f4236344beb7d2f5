package api

import (
	"mime"
	"net"
	"net/http"
	"strings"
)

// What every request passes before its route: a Host the service answers
// to (against DNS rebinding: a page on another site whose name was
// rebound to this address sends its own name), no cross-site writes
// (against CSRF: Sec-Fetch-Site, else Origin against Host), and a method
// the path has (405 with Allow).

// hostAllowed tells whether a Host header names this service: an IP
// literal (no rebinding goes through one), localhost, or one of names.
func hostAllowed(host string, names []string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
	if h == "" {
		return false
	}
	if net.ParseIP(h) != nil || h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	for _, n := range names {
		if n == "*" || strings.EqualFold(strings.TrimSuffix(n, "."), h) {
			return true
		}
	}
	return false
}

// guard wraps the service's mux.
func (s *Server) guard(mux *http.ServeMux) http.Handler {
	cop := http.NewCrossOriginProtection()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hostAllowed(r.Host, s.Hosts) {
			writeProblem(w, http.StatusMisdirectedRequest, "unknown-host",
				"this service does not answer to the host "+r.Host+"; give it --host (Config.Hosts) to add a name")
			return
		}
		if err := cop.Check(r); err != nil {
			writeProblem(w, http.StatusForbidden, "cross-origin", "a cross-site request that writes is refused")
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// notFound answers a request no route took: 405 with Allow when the path
// exists with other methods, 404 otherwise.
func notFound(mux *http.ServeMux) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} {
			r2 := r.Clone(r.Context())
			r2.Method = m
			if _, pat := mux.Handler(r2); pat != "" && pat != "/" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeProblem(w, http.StatusMethodNotAllowed, "method-not-allowed", r.Method+" is not one of "+strings.Join(allow, ", ")+" for "+r.URL.Path)
			return
		}
		writeProblem(w, http.StatusNotFound, "not-found", "no such resource: "+r.URL.Path)
	}
}

// jsonBody tells whether a request says its body is JSON; a form or
// text/plain one, which a page on another site can send without asking,
// is not taken.
func jsonBody(r *http.Request) bool {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && (ct == "application/json" || strings.HasSuffix(ct, "+json"))
}

func needJSON(w http.ResponseWriter) {
	writeProblem(w, http.StatusUnsupportedMediaType, "unsupported-media-type", "the body must be application/json")
}
