package jobs

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mailverify/mailverify/mx"
	"github.com/nats-io/nats.go"
)

// Webhook delivery states in a job record.
const (
	webhookPending = "pending"
	webhookSending = "sending"
	webhookSent    = "sent"
	webhookFailed  = "failed"
)

// Webhooks delivers each finished job's webhook, signed as Standard
// Webhooks (webhook-id, webhook-timestamp, webhook-signature: HMAC-SHA256
// of "id.timestamp.body"), retried with backoff. A delivery is claimed in
// the job record first, so that one process sends it; its webhook-id is
// the same on every attempt, so a receiver drops a repeat.
type Webhooks struct {
	Bus *Bus
	// Secret signs the deliveries ("whsec_" and base64, as Standard
	// Webhooks writes it, or raw bytes); empty signs each token's with
	// its own generated secret (Bus.WebhookSecret).
	Secret []byte
	// AllowPrivate lets webhooks reach loopback and private addresses.
	AllowPrivate bool
	Logger       *slog.Logger
	// Attempts bounds the tries of one delivery; zero means 8. Backoff
	// starts at Backoff (zero: 1s) and doubles.
	Attempts int
	Backoff  time.Duration
	// DNS, when set (host:port), resolves webhook hosts instead of the
	// system's resolver, as the verifier's --dns does for mail hosts.
	DNS string

	kick   chan string
	client *http.Client
}

// claimTimeout is how long a claimed delivery is left to its claimer.
const claimTimeout = 10 * time.Minute

// Notify asks for the webhook of job id to be delivered now.
func (w *Webhooks) Notify(id string) {
	select {
	case w.kick <- id:
	default: // the periodic sweep finds it
	}
}

// Init prepares w; Run calls it, tests that Notify before Run too.
func (w *Webhooks) Init() {
	if w.kick == nil {
		w.kick = make(chan string, 1024)
		w.client = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
			DialContext: (&net.Dialer{Timeout: 10 * time.Second, Control: w.guard, Resolver: resolverOf(w.DNS)}).DialContext,
			Proxy:       nil,
		}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
}

// Run delivers until ctx ends, sweeping for pending deliveries every
// minute (and at once).
func (w *Webhooks) Run(ctx context.Context) error {
	w.Init()
	sweep := time.NewTicker(time.Minute)
	defer sweep.Stop()
	if sub, err := w.Bus.NC.Subscribe(kickSubject, func(m *nats.Msg) { w.Notify(string(m.Data)) }); err == nil {
		defer func() { _ = sub.Unsubscribe() }()
	}
	w.sweep(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case id := <-w.kick:
			go w.deliver(ctx, id)
		case <-sweep.C:
			w.sweep(ctx)
		}
	}
}

func (w *Webhooks) sweep(ctx context.Context) {
	keys, err := w.Bus.Jobs.ListKeys(ctx)
	if err != nil {
		return
	}
	for k := range keys.Keys() {
		if rec, _, err := w.Bus.load(ctx, k); err == nil && claimable(rec, time.Now()) {
			go w.deliver(ctx, k)
		}
	}
}

func claimable(r *record, now time.Time) bool {
	return r.Webhook == webhookPending || r.Webhook == webhookSending && now.Sub(r.Claimed) > claimTimeout
}

func (w *Webhooks) deliver(ctx context.Context, id string) {
	var won bool
	rec, err := w.Bus.update(ctx, id, func(r *record) bool {
		if won = claimable(r, time.Now()); won {
			r.Webhook, r.Claimed = webhookSending, time.Now().UTC()
		}
		return won
	})
	if err != nil || !won {
		return
	}
	event := "completed"
	if rec.State == Canceled {
		event = "canceled"
	}
	body, err := json.Marshal(map[string]any{"type": "job." + event, "timestamp": time.Now().UTC().Format(time.RFC3339), "data": rec.Job})
	if err != nil {
		return
	}
	state := webhookFailed
	backoff := orDefault(w.Backoff, time.Second)
	for attempt := range orDefault(w.Attempts, 8) {
		if attempt > 0 {
			sleep(ctx, backoff)
			backoff *= 2
		}
		if ctx.Err() != nil {
			return // the claim times out and another process sends it
		}
		secret, err := w.secretFor(ctx, rec.Owner)
		if err == nil {
			err = w.post(ctx, rec.WebhookURL, secret, "job_"+id+"_"+event, body)
		}
		if err == nil {
			state = webhookSent
			break
		}
		logOrDiscard(w.Logger).Warn("webhook", "job", id, "attempt", attempt+1, "err", err)
	}
	_, _ = w.Bus.update(context.WithoutCancel(ctx), id, func(r *record) bool {
		r.Webhook = state
		return true
	})
}

func (w *Webhooks) post(ctx context.Context, target string, secret []byte, id string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", "v1,"+Sign(secret, id, ts, body))
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}

// Sign is the Standard Webhooks signature of a delivery, base64.
func Sign(secret []byte, id, ts string, body []byte) string {
	key := secret
	if s, ok := strings.CutPrefix(string(secret), "whsec_"); ok {
		if k, err := base64.StdEncoding.DecodeString(s); err == nil {
			key = k
		}
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// guard refuses connections to addresses the SSRF guard of package mx
// refuses, at connect time, so that DNS cannot point a webhook inside.
func (w *Webhooks) guard(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return err
	}
	if !w.AllowPrivate && !mx.Routable(ap.Addr()) {
		return fmt.Errorf("webhook address %s is not a public address", ap.Addr())
	}
	return nil
}

// ErrWebhookURL is a webhook URL the service will not call.
var ErrWebhookURL = errors.New("webhook_url must be an absolute http or https URL to a public host")

// CheckWebhookURL vets a webhook URL when a job is submitted; the address
// it resolves to is checked again at each delivery.
func CheckWebhookURL(raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return ErrWebhookURL
	}
	if ip, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil && !allowPrivate && !mx.Routable(ip) {
		return ErrWebhookURL
	}
	if !allowPrivate && (u.Hostname() == "localhost" || strings.HasSuffix(u.Hostname(), ".localhost")) {
		return ErrWebhookURL
	}
	return nil
}
