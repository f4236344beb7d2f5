package api

import (
	"encoding/csv"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"

	"github.com/mailverify/mailverify/internal/resultcsv"
	"github.com/mailverify/mailverify/verify"
)

// export streams every result of a job stored so far in one response:
// NDJSON, or CSV with ?format=csv or Accept: text/csv. Nothing is held
// but a batch, whatever the size of the job.
func (s *Server) export(w http.ResponseWriter, r *http.Request) {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "ndjson"
		if accept, _, _ := mime.ParseMediaType(r.Header.Get("Accept")); accept == "text/csv" {
			format = "csv"
		}
	}
	if format != "csv" && format != "ndjson" {
		writeProblem(w, http.StatusBadRequest, "bad-request", "format must be csv or ndjson")
		return
	}
	id := r.PathValue("id")
	job, err := s.Bus.Get(r.Context(), owner(r), id)
	if err != nil {
		s.jobError(w, err)
		return
	}
	w.Header().Set("Mailverify-Job-State", job.State)
	ext := ".ndjson"
	var cw *csv.Writer
	if format == "csv" {
		ext = ".csv"
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		cw = csv.NewWriter(w)
		_ = cw.Write(append([]string{"index"}, resultcsv.Columns...))
	} else {
		w.Header().Set("Content-Type", "application/x-ndjson")
	}
	w.Header().Set("Content-Disposition", `attachment; filename="mailverify-`+id+ext+`"`)
	flusher, _ := w.(http.Flusher)
	n := 0
	err = s.Bus.Export(r.Context(), owner(r), id, func(line []byte) error {
		n++
		if cw != nil {
			var res struct {
				Index int `json:"index"`
				verify.Result
			}
			if json.Unmarshal(line, &res) == nil {
				_ = cw.Write(append([]string{strconv.Itoa(res.Index)}, resultcsv.Row(res.Result)...))
			}
		} else if _, err := w.Write(append(line, '\n')); err != nil {
			return err
		}
		if n%1000 == 0 {
			if cw != nil {
				cw.Flush()
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		return nil
	})
	if cw != nil {
		cw.Flush()
	}
	if err != nil {
		// The status is sent: a cut-short body is all that can tell.
		logOrDiscard(s.Logger).Warn("api: export", "job", id, "err", err)
		panic(http.ErrAbortHandler)
	}
}
