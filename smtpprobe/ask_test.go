package smtpprobe

import (
	"testing"

	"github.com/mailverify/mailverify/internal/testsmtp"
)

func TestAsk(t *testing.T) {
	srv := &testsmtp.Server{Handlers: map[string]testsmtp.Handler{
		"VRFY": func(*testsmtp.Conn, testsmtp.Command) testsmtp.Reply {
			return testsmtp.R(252, "2.5.2", "Cannot VRFY user")
		},
	}}
	defer srv.Close()
	s := openSession(t, srv)
	r, err := s.Ask(t.Context(), "vrfy", "postmaster")
	if err != nil || r.Code != 252 {
		t.Errorf("VRFY: %v %v; want 252", r, err)
	}
	for _, verb := range []string{"DATA", "RCPT", "MAIL", "QUIT", "BDAT"} {
		if _, err := s.Ask(t.Context(), verb, ""); err == nil {
			t.Errorf("Ask(%s) was sent", verb)
		}
	}
	if _, err := s.Ask(t.Context(), "VRFY", "x\r\nDATA"); err == nil {
		t.Error("a CR LF in the argument was sent")
	}
	if n := srv.Count("DATA"); n != 0 {
		t.Errorf("the server saw %d DATA", n)
	}
}
