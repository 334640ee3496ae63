// Package secret holds the function's secret: the ComplyCube API key and,
// when configured, the key that signs invitations and the secret ComplyCube
// signs webhooks with; where it is read from (Secrets Manager, or the
// environment for local runs) and the rule for reading it again.
//
// The secret is read once while the function initialises. A failed read is
// not fatal: requests ask again, at most once per MinInterval. When
// ComplyCube rejects the key (401/403), or an invitation's signature does
// not verify, Refresh reads it again, under the same limit, so a rotated
// value is picked up without a redeploy and a flood of rejected calls
// cannot become a flood of Secrets Manager reads.
package secret

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/complycube-session/createsession/handler/invitation"
)

// Secret is what the function keeps in its one secret.
type Secret struct {
	APIKey string
	// InvitationKey signs invitations (HS256); "" when not configured.
	InvitationKey string
	// WebhookSecret is what ComplyCube signs webhooks with; "" when not
	// configured.
	WebhookSecret string
	// TurnstileSecretKey is Cloudflare Turnstile's secret key, for
	// BOT_CHECK=turnstile; "" when not configured.
	TurnstileSecretKey string
}

// Fetcher reads the secret from where it is kept.
type Fetcher interface {
	Fetch(ctx context.Context) (Secret, error)
}

// ErrUnchanged is returned by Refresh when the value read again is the one
// that was rejected, or when the secret may not be read again yet.
var ErrUnchanged = errors.New("secret value unchanged")

// ErrThrottled wraps the last read error when a read is refused because the
// previous attempt was less than MinInterval ago.
var ErrThrottled = errors.New("api key read attempted less than the minimum interval ago")

// Defaults for Cache.
const (
	DefaultFetchTimeout = 3 * time.Second
	DefaultMinInterval  = time.Second
)

// Cache keeps the secret in memory and applies the read-again rule.
// It is safe for concurrent use; concurrent reads wait for one fetch.
type Cache struct {
	fetcher      Fetcher
	fetchTimeout time.Duration
	minInterval  time.Duration
	now          func() time.Time

	mu          sync.Mutex
	secret      Secret
	loaded      bool // a read has succeeded
	lastAttempt time.Time
	lastErr     error
}

// Option changes a Cache's defaults.
type Option func(*Cache)

// WithClock sets the clock used for the minimum interval (tests).
func WithClock(now func() time.Time) Option { return func(c *Cache) { c.now = now } }

// WithFetchTimeout bounds every read of the key.
func WithFetchTimeout(d time.Duration) Option { return func(c *Cache) { c.fetchTimeout = d } }

// WithMinInterval sets the least time between two reads.
func WithMinInterval(d time.Duration) Option { return func(c *Cache) { c.minInterval = d } }

// NewCache returns a Cache that has not read the key yet; call Load at init.
func NewCache(f Fetcher, opts ...Option) *Cache {
	c := &Cache{fetcher: f, fetchTimeout: DefaultFetchTimeout, minInterval: DefaultMinInterval, now: time.Now}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Load reads the key now, whatever the interval rule says. It is meant for
// init; its error is worth logging but not fatal, since Key tries again.
func (c *Cache) Load(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fetchLocked(ctx)
}

// Key returns the cached API key, or reads the secret if there is none
// and the last attempt is old enough.
func (c *Cache) Key(ctx context.Context) (string, error) {
	return c.value(ctx, apiKey)
}

// Refresh is called when upstream rejected the key `rejected`. It returns a
// different key when one is known or can be read now, and ErrUnchanged (or
// the read's error) otherwise.
func (c *Cache) Refresh(ctx context.Context, rejected string) (string, error) {
	return c.refresh(ctx, apiKey, rejected)
}

// InvitationKey returns the key that signs invitations.
func (c *Cache) InvitationKey(ctx context.Context) ([]byte, error) {
	k, err := c.value(ctx, invitationKey)
	return []byte(k), err
}

// RefreshInvitationKey is called when an invitation's signature did not
// verify with `rejected`; like Refresh, it returns a different key or an
// error.
func (c *Cache) RefreshInvitationKey(ctx context.Context, rejected []byte) ([]byte, error) {
	k, err := c.refresh(ctx, invitationKey, string(rejected))
	return []byte(k), err
}

// HashKey is the key of the keyed hashes (IP and e-mail addresses in the
// shared state and the logs), derived from the API key so that it needs no
// value of its own in the secret: HMAC-SHA256(apiKey, hashKeyLabel). A
// rotated API key starts the counts and the logs' hashes afresh.
func (c *Cache) HashKey(ctx context.Context) ([]byte, error) {
	k, err := c.value(ctx, apiKey)
	if err != nil {
		return nil, err
	}
	return deriveHashKey(k), nil
}

// LoadedHashKey is HashKey when the secret is already held, and an error
// otherwise, without reading it: for a log line, which must never make a
// request wait for Secrets Manager.
func (c *Cache) LoadedHashKey(context.Context) ([]byte, error) {
	c.mu.Lock()
	loaded, s := c.loaded, c.secret
	c.mu.Unlock()
	if !loaded {
		return nil, errors.New("the secret is not read yet")
	}
	k, err := apiKey(s)
	if err != nil {
		return nil, err
	}
	return deriveHashKey(k), nil
}

// deriveHashKey is HMAC-SHA256(apiKey, hashKeyLabel).
func deriveHashKey(apiKey string) []byte {
	m := hmac.New(sha256.New, []byte(apiKey))
	m.Write([]byte(hashKeyLabel))
	return m.Sum(nil)
}

// hashKeyLabel names what the derived key is for.
const hashKeyLabel = "complycube-createsession keyed hashes v1"

// TurnstileSecretKey returns Cloudflare Turnstile's secret key.
func (c *Cache) TurnstileSecretKey(ctx context.Context) (string, error) {
	return c.value(ctx, turnstileSecretKey)
}

// RefreshTurnstileSecretKey is called when siteverify refused `rejected`
// as the secret key; like Refresh, it returns a different key or an error.
func (c *Cache) RefreshTurnstileSecretKey(ctx context.Context, rejected string) (string, error) {
	return c.refresh(ctx, turnstileSecretKey, rejected)
}

// WebhookSecret returns the secret ComplyCube signs webhooks with.
func (c *Cache) WebhookSecret(ctx context.Context) (string, error) {
	return c.value(ctx, webhookSecret)
}

// RefreshWebhookSecret is called when a webhook's signature did not verify
// with `rejected`; like Refresh, it returns a different secret or an error.
func (c *Cache) RefreshWebhookSecret(ctx context.Context, rejected string) (string, error) {
	return c.refresh(ctx, webhookSecret, rejected)
}

// field picks one value of the secret, or says why it is not usable.
type field func(Secret) (string, error)

func apiKey(s Secret) (string, error) {
	if s.APIKey == "" {
		return "", errors.New("api key is empty")
	}
	return s.APIKey, nil
}

func invitationKey(s Secret) (string, error) {
	switch {
	case s.InvitationKey == "":
		return "", errors.New(`the secret holds no "invitationKey"`)
	}
	if err := invitation.CheckKey([]byte(s.InvitationKey)); err != nil {
		return "", fmt.Errorf(`the secret's "invitationKey" %w`, err)
	}
	return s.InvitationKey, nil
}

func turnstileSecretKey(s Secret) (string, error) {
	if s.TurnstileSecretKey == "" {
		return "", errors.New(`the secret holds no "turnstileSecretKey" (needed with BOT_CHECK=turnstile)`)
	}
	return s.TurnstileSecretKey, nil
}

func webhookSecret(s Secret) (string, error) {
	if s.WebhookSecret == "" {
		return "", errors.New(`the secret holds no "webhookSecret"`)
	}
	return s.WebhookSecret, nil
}

// value returns f of the cached secret, reading the secret first when
// there is none and the last attempt is old enough.
func (c *Cache) value(ctx context.Context, f field) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded {
		if !c.lastAttempt.IsZero() && c.now().Sub(c.lastAttempt) < c.minInterval {
			return "", fmt.Errorf("%w: %w", ErrThrottled, c.lastErr)
		}
		if err := c.fetchLocked(ctx); err != nil {
			return "", err
		}
	}
	v, err := f(c.secret)
	if err == nil {
		return v, nil
	}
	// A value missing from the secret as read may have been added since
	// (an operator adds webhookSecret or turnstileSecretKey after the
	// deploy): read it again, at most once a second, as for a rotation.
	if c.now().Sub(c.lastAttempt) < c.minInterval {
		return "", err
	}
	if ferr := c.fetchLocked(ctx); ferr != nil {
		return "", err
	}
	return f(c.secret)
}

// refresh returns a value of f other than rejected: the cached one when
// another request already picked up a rotation, else one read now if the
// interval allows.
func (c *Cache) refresh(ctx context.Context, f field, rejected string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, err := f(c.secret); err == nil && c.loaded && v != rejected {
		return v, nil
	}
	if !c.lastAttempt.IsZero() && c.now().Sub(c.lastAttempt) < c.minInterval {
		return "", ErrUnchanged
	}
	if err := c.fetchLocked(ctx); err != nil {
		return "", err
	}
	v, err := f(c.secret)
	if err != nil {
		return "", err
	}
	if v == rejected {
		return "", ErrUnchanged
	}
	return v, nil
}

func (c *Cache) fetchLocked(ctx context.Context) error {
	c.lastAttempt = c.now()
	ctx, cancel := context.WithTimeout(ctx, c.fetchTimeout)
	defer cancel()
	sec, err := c.fetcher.Fetch(ctx)
	if err == nil && sec == (Secret{}) {
		err = errors.New("the secret is empty")
	}
	c.lastErr = err
	if err != nil {
		// A failed read keeps the secret we had: a Secrets Manager outage
		// must not take down an instance that already holds a working key.
		return err
	}
	c.secret, c.loaded = sec, true
	return nil
}
