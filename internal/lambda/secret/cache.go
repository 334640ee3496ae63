// Package secret holds the ComplyCube API key for the function: where it is
// read from (Secrets Manager, or the environment for local runs) and the rule
// for reading it again.
//
// The key is read once while the function initialises. A failed read is not
// fatal: requests ask again, at most once per MinInterval. When ComplyCube
// rejects the key (401/403), Refresh reads it again, under the same limit, so
// a rotated key is picked up without a redeploy and a flood of rejected calls
// cannot become a flood of Secrets Manager reads.
package secret

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Fetcher reads the API key from where it is kept.
type Fetcher interface {
	FetchKey(ctx context.Context) (string, error)
}

// ErrUnchanged is returned by Refresh when the key read again is the one that
// was rejected, or when the key may not be read again yet.
var ErrUnchanged = errors.New("api key unchanged")

// ErrThrottled wraps the last read error when a read is refused because the
// previous attempt was less than MinInterval ago.
var ErrThrottled = errors.New("api key read attempted less than the minimum interval ago")

// Defaults for Cache.
const (
	DefaultFetchTimeout = 3 * time.Second
	DefaultMinInterval  = time.Second
)

// Cache keeps the key in memory and applies the read-again rule.
// It is safe for concurrent use; concurrent reads wait for one fetch.
type Cache struct {
	fetcher      Fetcher
	fetchTimeout time.Duration
	minInterval  time.Duration
	now          func() time.Time

	mu          sync.Mutex
	key         string
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

// Key returns the cached key, or reads it if there is none and the last
// attempt is old enough.
func (c *Cache) Key(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.key != "" {
		return c.key, nil
	}
	if !c.lastAttempt.IsZero() && c.now().Sub(c.lastAttempt) < c.minInterval {
		return "", fmt.Errorf("%w: %w", ErrThrottled, c.lastErr)
	}
	if err := c.fetchLocked(ctx); err != nil {
		return "", err
	}
	return c.key, nil
}

// Refresh is called when upstream rejected the key `rejected`. It returns a
// different key when one is known or can be read now, and ErrUnchanged (or
// the read's error) otherwise.
func (c *Cache) Refresh(ctx context.Context, rejected string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.key != "" && c.key != rejected {
		// Another request already picked up the rotated key.
		return c.key, nil
	}
	if !c.lastAttempt.IsZero() && c.now().Sub(c.lastAttempt) < c.minInterval {
		return "", ErrUnchanged
	}
	if err := c.fetchLocked(ctx); err != nil {
		return "", err
	}
	if c.key == rejected {
		return "", ErrUnchanged
	}
	return c.key, nil
}

func (c *Cache) fetchLocked(ctx context.Context) error {
	c.lastAttempt = c.now()
	ctx, cancel := context.WithTimeout(ctx, c.fetchTimeout)
	defer cancel()
	key, err := c.fetcher.FetchKey(ctx)
	if err == nil && key == "" {
		err = errors.New("api key is empty")
	}
	c.lastErr = err
	if err != nil {
		// A failed read keeps the key we had: a Secrets Manager outage must
		// not take down an instance that already holds a working key.
		return err
	}
	c.key = key
	return nil
}
