package feedback

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
)

// ErrNotDSN is a message that is not a delivery status notification.
var ErrNotDSN = errors.New("feedback: not a delivery status notification (multipart/report; report-type=delivery-status)")

// maxPart bounds what is read of a report's parts: real reports are a few
// kilobytes, and a hostile one must not cost memory.
const maxPart = 1 << 20

// ParseDSN reads one message and returns the recipients' outcomes its
// RFC 3464 delivery-status part reports. Postfix, Exim, Exchange and Gmail
// all write this format.
func ParseDSN(r io.Reader) ([]Event, error) {
	msg, err := mail.ReadMessage(bufio.NewReader(io.LimitReader(r, 16*maxPart)))
	if err != nil {
		return nil, fmt.Errorf("feedback: %w", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || !strings.EqualFold(params["report-type"], "delivery-status") || params["boundary"] == "" {
		return nil, ErrNotDSN
	}
	date, _ := msg.Header.Date()
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, ErrNotDSN
		}
		if err != nil {
			return nil, fmt.Errorf("feedback: %w", err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if ct == "message/delivery-status" || ct == "message/global-delivery-status" {
			body, err := io.ReadAll(io.LimitReader(p, maxPart))
			if err != nil {
				return nil, fmt.Errorf("feedback: %w", err)
			}
			return deliveryStatus(body, date)
		}
	}
}

// deliveryStatus parses the per-message fields and then each recipient's
// block (RFC 3464 section 2.1): header-like groups separated by blank
// lines.
func deliveryStatus(body []byte, date time.Time) ([]Event, error) {
	tr := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(bytes.TrimLeft(body, "\r\n"), "\r\n\r\n"...))))
	perMessage, err := tr.ReadMIMEHeader()
	if err != nil && len(perMessage) == 0 {
		return nil, fmt.Errorf("feedback: delivery-status: %w", err)
	}
	if t, err := mail.ParseDate(perMessage.Get("Arrival-Date")); err == nil && date.IsZero() {
		date = t
	}
	var out []Event
	for {
		h, err := tr.ReadMIMEHeader()
		if len(h) > 0 {
			if e, ok := recipient(h, date); ok {
				out = append(out, e)
			}
		}
		if err != nil {
			break
		}
	}
	if len(out) == 0 {
		return nil, errors.New("feedback: delivery-status part names no recipient")
	}
	return out, nil
}

// recipient reads one per-recipient block.
func recipient(h textproto.MIMEHeader, date time.Time) (Event, bool) {
	addr := h.Get("Final-Recipient")
	if addr == "" {
		addr = h.Get("Original-Recipient")
	}
	typ, addr, ok := strings.Cut(addr, ";")
	if !ok || !strings.EqualFold(strings.TrimSpace(typ), "rfc822") && !strings.EqualFold(strings.TrimSpace(typ), "utf-8") {
		return Event{}, false
	}
	addr = strings.TrimSpace(addr)
	if !strings.Contains(addr, "@") {
		return Event{}, false
	}
	status := strings.TrimSpace(h.Get("Status"))
	if i := strings.IndexAny(status, " \t("); i > 0 {
		status = status[:i]
	}
	e := Event{Address: addr, Status: status, Reply: strings.TrimSpace(h.Get("Diagnostic-Code")), At: date, Source: "dsn"}
	if t, err := mail.ParseDate(h.Get("Last-Attempt-Date")); err == nil {
		e.At = t
	}
	switch action := strings.ToLower(strings.TrimSpace(h.Get("Action"))); {
	case action == "failed" && strings.HasPrefix(status, "5."):
		e.Kind = HardBounce
	case action == "failed" || action == "delayed":
		e.Kind = SoftBounce
	case action == "delivered":
		e.Kind = Delivered
	default: // relayed and expanded went on to systems that say no more
		return Event{}, false
	}
	return e, true
}
