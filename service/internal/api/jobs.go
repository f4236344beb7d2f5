package api

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"

	"github.com/mailverify/mailverify/internal/input"
	"github.com/mailverify/mailverify/internal/resultcsv"
	"github.com/mailverify/mailverify/service/internal/jobs"
	"github.com/mailverify/mailverify/verify"
)

func (s *Server) maxBody() int64 {
	if s.MaxBody > 0 {
		return s.MaxBody
	}
	return 64 << 20
}

// dedupeParam reads the dedupe option of POST /v1/jobs and POST
// /v1/lists: verify each address once.
func dedupeParam(q url.Values) (bool, error) {
	switch q.Get("dedupe") {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, errors.New("dedupe must be true or false")
}

// reader picks the input reader for a job's content type.
func reader(r *http.Request) (*input.Reader, int, string) {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, http.StatusUnsupportedMediaType, "Content-Type must be text/plain, text/csv or application/x-ndjson"
	}
	switch ct {
	case "text/plain":
		return input.Lines(r.Body), 0, ""
	case "application/x-ndjson", "application/ndjson":
		return input.NDJSON(r.Body), 0, ""
	case "text/csv":
		rd, err := input.CSV(r.Body, r.URL.Query().Get("column"))
		if err != nil {
			if tooLarge(err) {
				return nil, http.StatusRequestEntityTooLarge, err.Error()
			}
			return nil, http.StatusBadRequest, err.Error()
		}
		return rd, 0, ""
	}
	return nil, http.StatusUnsupportedMediaType, "Content-Type " + ct + " is not one of text/plain, text/csv, application/x-ndjson"
}

func (s *Server) createJob(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	spec := jobs.Spec{Owner: owner(r), WebhookURL: q.Get("webhook_url"), IdempotencyKey: r.Header.Get("Idempotency-Key")}
	if spec.WebhookURL != "" {
		if err := jobs.CheckWebhookURL(spec.WebhookURL, s.AllowPrivate); err != nil {
			writeProblem(w, http.StatusUnprocessableEntity, "invalid-field", err.Error())
			return
		}
	}
	if len(spec.IdempotencyKey) > 255 {
		writeProblem(w, http.StatusBadRequest, "bad-request", "Idempotency-Key is longer than 255 characters")
		return
	}
	dedupe, err := dedupeParam(q)
	if err != nil {
		writeProblem(w, http.StatusBadRequest, "bad-request", err.Error())
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.maxBody())
	rd, status, detail := reader(r)
	if rd == nil {
		writeProblem(w, status, "bad-input", detail)
		return
	}
	var in jobs.Inputs = func(yield func(input.Entry) bool) error {
		rd.All(yield)
		return rd.Err()
	}
	if dedupe {
		spec.Dedupe = &jobs.Dedupe{}
		in = spec.Dedupe.Filter(in)
	}
	job, err := s.Bus.Submit(r.Context(), spec, in)
	var inErr *jobs.InputError
	switch {
	case err == nil:
	case tooLarge(err):
		writeProblem(w, http.StatusRequestEntityTooLarge, "too-large", "the body is larger than "+strconv.FormatInt(s.maxBody(), 10)+" bytes; nothing was stored")
		return
	case errors.Is(err, jobs.ErrInProgress):
		w.Header().Set("Retry-After", "1")
		writeProblem(w, http.StatusConflict, "in-progress", err.Error())
		return
	case errors.Is(err, jobs.ErrKeyReused):
		writeProblem(w, http.StatusUnprocessableEntity, "key-reused", err.Error())
		return
	case errors.As(err, &inErr):
		writeProblem(w, http.StatusUnprocessableEntity, "bad-input", inErr.Error()+"; nothing was stored")
		return
	case r.Context().Err() != nil:
		return
	case rd.Err() != nil:
		writeProblem(w, http.StatusBadRequest, "bad-input", rd.Err().Error()+"; nothing was stored")
		return
	default:
		s.unavailable(w, "could not store the job", err)
		return
	}
	s.Metrics.jobCreated()
	w.Header().Set("Location", "/v1/jobs/"+job.ID)
	writeJSON(w, http.StatusAccepted, job)
}

func (s *Server) jobError(w http.ResponseWriter, err error) {
	if errors.Is(err, jobs.ErrNotFound) {
		writeProblem(w, http.StatusNotFound, "not-found", "no such job")
		return
	}
	if errors.Is(err, jobs.ErrCursor) {
		writeProblem(w, http.StatusBadRequest, "bad-request", err.Error())
		return
	}
	s.unavailable(w, "could not read the job", err)
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	job, err := s.Bus.Get(r.Context(), owner(r), r.PathValue("id"))
	if err != nil {
		s.jobError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, job)
}

// listJobs writes a page of the caller's jobs, newest first; "next" (and
// Link rel="next") says where the next page starts.
func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeProblem(w, http.StatusBadRequest, "bad-request", "limit must be between 1 and 1000")
			return
		}
		limit = n
	}
	list, next, err := s.Bus.ListPage(r.Context(), owner(r), r.URL.Query().Get("after"), limit)
	if errors.Is(err, jobs.ErrListCursor) {
		writeProblem(w, http.StatusBadRequest, "bad-request", err.Error())
		return
	}
	if err != nil {
		s.jobError(w, err)
		return
	}
	body := map[string]any{"jobs": list}
	if next != "" {
		body["next"] = next
		w.Header().Set("Link", `</v1/jobs?after=`+next+`&limit=`+strconv.Itoa(limit)+`>; rel="next"`)
	}
	writeJSON(w, http.StatusOK, body)
}

// cancelJob stops a job and erases its data (DELETE /v1/jobs/ID).
func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) {
	s.endJob(w, r, s.Bus.Cancel)
}

// stopJob stops a job and keeps its results and file (POST
// /v1/jobs/ID/cancel: the page's Cancel).
func (s *Server) stopJob(w http.ResponseWriter, r *http.Request) {
	s.endJob(w, r, s.Bus.Stop)
}

func (s *Server) endJob(w http.ResponseWriter, r *http.Request, end func(context.Context, string, string) (*jobs.Job, error)) {
	job, err := end(r.Context(), owner(r), r.PathValue("id"))
	if err != nil {
		s.jobError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, job)
}

// results writes a page of a job's results as NDJSON, or CSV when asked
// with Accept: text/csv. Mailverify-Cursor is where the next page starts;
// Link rel="next" is there while more may come.
func (s *Server) results(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var after uint64
	limit := 1000
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeProblem(w, http.StatusBadRequest, "bad-request", "after must be a cursor from Mailverify-Cursor")
			return
		}
		after = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			writeProblem(w, http.StatusBadRequest, "bad-request", "limit must be between 1 and 10000")
			return
		}
		limit = n
	}
	id := r.PathValue("id")
	page, err := s.Bus.Results(r.Context(), owner(r), id, after, limit)
	if err != nil {
		s.jobError(w, err)
		return
	}
	job, err := s.Bus.Get(r.Context(), owner(r), id)
	if err != nil {
		s.jobError(w, err)
		return
	}
	cursor := strconv.FormatUint(page.Cursor, 10)
	w.Header().Set("Mailverify-Cursor", cursor)
	if page.More || job.State == jobs.Queued || job.State == jobs.Running {
		w.Header().Set("Link", `</v1/jobs/`+id+`/results?after=`+cursor+`>; rel="next"`)
	}
	accept, _, _ := mime.ParseMediaType(r.Header.Get("Accept"))
	if accept == "text/csv" {
		writeCSV(w, page, after == 0)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	for _, line := range page.Results {
		_, _ = w.Write(append(line, '\n'))
	}
}

func writeCSV(w http.ResponseWriter, page *jobs.Page, header bool) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	cw := csv.NewWriter(w)
	if header {
		_ = cw.Write(append([]string{"index"}, resultcsv.Columns...))
	}
	for _, line := range page.Results {
		var r struct {
			Index int `json:"index"`
			verify.Result
		}
		if json.Unmarshal(line, &r) != nil {
			continue
		}
		_ = cw.Write(append([]string{strconv.Itoa(r.Index)}, resultcsv.Row(r.Result)...))
	}
	cw.Flush()
}
