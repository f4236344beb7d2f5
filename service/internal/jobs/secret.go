package jobs

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net"

	"github.com/nats-io/nats.go/jetstream"
)

// secretKey, in the state bucket, holds the secret the service made up to
// sign webhooks when it was given none. Each token's webhooks are signed
// with a key derived from it and the token's owner, so that one tenant
// cannot sign another's deliveries.
const secretKey = "webhook.secret"

// webhookMaster returns the generated secret, making it on first use; all
// processes on the bus share it (and it is kept with the bus's store).
func (b *Bus) webhookMaster(ctx context.Context) ([]byte, error) {
	for range 3 {
		e, err := b.State.Get(ctx, secretKey)
		if err == nil && len(e.Value()) >= 32 {
			return e.Value(), nil
		}
		if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, err
		}
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return nil, err
		}
		if _, err := b.State.Create(ctx, secretKey, k); err == nil {
			return k, nil
		} else if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, err
		}
	}
	return nil, errors.New("service: could not make the webhook secret")
}

// WebhookSecret returns the secret that signs the webhooks of owner's
// jobs when the service was given none, as Standard Webhooks writes it
// ("whsec_" and base64).
func (b *Bus) WebhookSecret(ctx context.Context, owner string) (string, error) {
	master, err := b.webhookMaster(ctx)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, master)
	m.Write([]byte("mailverify webhook\x00" + owner))
	return "whsec_" + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

// secretFor returns the secret that signs a delivery of owner's job: the
// configured one, else the generated one. It never returns an empty key.
func (w *Webhooks) secretFor(ctx context.Context, owner string) ([]byte, error) {
	if len(w.Secret) > 0 {
		return w.Secret, nil
	}
	s, err := w.Bus.WebhookSecret(ctx, owner)
	if err != nil {
		return nil, err
	}
	return []byte(s), nil
}

// kickSubject carries the id of a job whose webhook is due now (a
// cancel), to whichever process sends webhooks.
const kickSubject = "mv.kick.webhook"

// resolverOf is a resolver that asks server (host:port), or nil for the
// system's.
func resolverOf(server string) *net.Resolver {
	if server == "" {
		return nil
	}
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, server)
	}}
}
