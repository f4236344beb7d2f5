package feedback

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// An ESPRecord is the bounce or delivery record of an email service
// provider's webhook or export, one JSON object per line:
//
//	{"address": "jane@example.com", "event": "bounce", "type": "hard",
//	 "status": "5.1.1", "reply": "550 5.1.1 unknown user", "at": "2026-11-30T10:00:00Z"}
//
// event is "bounce" or "delivered"; type is "hard" or "soft" for bounces.
type ESPRecord struct {
	Address string    `json:"address"`
	Event   string    `json:"event"`
	Type    string    `json:"type"`
	Status  string    `json:"status"`
	Reply   string    `json:"reply"`
	At      time.Time `json:"at"`
}

func (r ESPRecord) event() (Event, error) {
	e := Event{Address: r.Address, Status: r.Status, Reply: r.Reply, At: r.At, Source: "esp"}
	switch {
	case !strings.Contains(r.Address, "@"):
		return e, errors.New(`no "address"`)
	case r.At.IsZero():
		return e, errors.New(`no "at" time`)
	case r.Event == "delivered":
		e.Kind = Delivered
	case r.Event == "bounce" && r.Type == "hard":
		e.Kind = HardBounce
	case r.Event == "bounce" && r.Type == "soft":
		e.Kind = SoftBounce
	default:
		return e, fmt.Errorf("event %q type %q: want delivered, or bounce with type hard or soft", r.Event, r.Type)
	}
	return e, nil
}

// A Stats counts what Read took and skipped.
type Stats struct {
	Messages, Events, Skipped int
}

// Read takes feedback in any of the forms people have it — an mbox of
// bounce messages, a single message (.eml), or ESP records as NDJSON —
// and calls f for each event. Messages that are not delivery status
// notifications (auto-replies, spam) are counted as skipped, not errors;
// a malformed NDJSON line is an error naming it.
func Read(r io.Reader, f func(Event) error) (Stats, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(5)
	head = bytes.TrimLeft(head, " \t\r\n")
	var st Stats
	switch {
	case bytes.HasPrefix(head, []byte("{")):
		return st, readNDJSON(br, &st, f)
	case bytes.HasPrefix(head, []byte("From ")):
		return st, readMbox(br, &st, f)
	}
	return st, message(br, &st, f)
}

func message(r io.Reader, st *Stats, f func(Event) error) error {
	st.Messages++
	evs, err := ParseDSN(r)
	if err != nil {
		st.Skipped++
		return nil
	}
	for _, e := range evs {
		st.Events++
		if err := f(e); err != nil {
			return err
		}
	}
	return nil
}

// readMbox splits an mbox at its "From " lines (mboxrd: ">From " lines
// in bodies are unquoted).
func readMbox(br *bufio.Reader, st *Stats, f func(Event) error) error {
	var msg bytes.Buffer
	flush := func() error {
		if msg.Len() == 0 {
			return nil
		}
		err := message(bytes.NewReader(msg.Bytes()), st, f)
		msg.Reset()
		return err
	}
	for {
		line, err := br.ReadBytes('\n')
		if bytes.HasPrefix(line, []byte("From ")) {
			if ferr := flush(); ferr != nil {
				return ferr
			}
		} else if len(line) > 0 && msg.Len() < 16*maxPart {
			if q := bytes.TrimLeft(line, ">"); len(q) < len(line) && bytes.HasPrefix(q, []byte("From ")) {
				line = line[1:]
			}
			msg.Write(line)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return flush()
			}
			return err
		}
	}
}

func readNDJSON(br *bufio.Reader, st *Stats, f func(Event) error) error {
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var rec ESPRecord
		if err := json.Unmarshal(line, &rec); err != nil {
			return fmt.Errorf("feedback: line %d: %v", n, err)
		}
		e, err := rec.event()
		if err != nil {
			return fmt.Errorf("feedback: line %d: %v", n, err)
		}
		st.Events++
		if err := f(e); err != nil {
			return err
		}
	}
	return sc.Err()
}
