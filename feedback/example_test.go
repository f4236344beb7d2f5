package feedback_test

import (
	"fmt"
	"strings"

	"github.com/mailverify/mailverify/feedback"
)

// ESP records (NDJSON) go into a History; the latest event per address
// is what a Verifier later weighs.
func ExampleRead() {
	h := &feedback.Memory{}
	in := `{"address":"jane@example.com","event":"bounce","type":"hard","status":"5.1.1","reply":"550 5.1.1 no such user","at":"2026-11-30T10:00:00Z"}`
	st, err := feedback.Read(strings.NewReader(in), h.Record)
	if err != nil {
		panic(err)
	}
	e, ok, _ := h.Lookup("jane@EXAMPLE.com")
	fmt.Println(st.Events, ok, e.Kind, e.Status)
	// Output: 1 true hard_bounce 5.1.1
}
