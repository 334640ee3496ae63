// Package memstate keeps the shared state (handler/state) in the
// instance's own memory: what runs without STATE_TABLE (local runs, the
// dev server) use. Nothing is shared between instances or survives a
// restart, which is why the functions log a warning when they use it.
//
// Its rules are those of internal/lambda/dynamostate, so that a local run
// decides what the deployed function would (internal/testonly/statetest
// holds both to the same suite): an item lives while its ttl, in whole
// epoch seconds, is at or after the clock's second (so it lives through
// the second its expiry falls in, never less than asked); an expiry more
// than state.MaxLife ahead is shortened to it; an expired item counts as
// absent for every call.
//
// Memory is bounded: expired items are dropped by a sweep, which runs on
// a write at most once a minute, and the store holds at most MaxItems
// items. A write that would add an item to a full store, after a sweep,
// is refused with ErrFull rather than dropping a live item: dropping a
// counter or a claim would let a limit or a "seen before" check pass,
// whereas an error makes sign-ups fail closed (503) and webhooks fail open,
// the same as when DynamoDB is down.
package memstate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/complycube-session/createsession/handler/state"
)

// DefaultMaxItems bounds the store: far above what a local run holds,
// small enough (with keys of at most MaxKeyBytes) to stay within a few
// hundred megabytes in the worst case.
const DefaultMaxItems = 100_000

// MaxKeyBytes is DynamoDB's limit for a partition key, applied here so
// that a key works in both stores.
const MaxKeyBytes = 2048

// sweepInterval is how often a write drops expired items; a full store
// sweeps again at most once per second of the clock, so a flood of
// refused writes cannot make every write walk the whole map.
const sweepInterval = time.Minute

// ErrFull is the error of a write that would add an item to a store that
// holds MaxItems live items.
var ErrFull = errors.New("memstate: the store is full")

// Store is safe for concurrent use. Make one with New.
type Store struct {
	now      func() time.Time
	maxItems int

	mu        sync.Mutex
	items     map[string]item
	lastSweep int64 // epoch second of the last sweep
}

// item is one key's record. ttl is in epoch seconds, as DynamoDB's
// attribute is.
type item struct {
	ttl    int64
	n      int    // counter value; 0 for anything but a counter
	value  []byte // Put and PutNewer; never shared with a caller
	ver    int64  // PutNewer's version
	hasVer bool   // written by PutNewer (a Put's value has no version, and PutNewer never replaces it while it lives, as in DynamoDB)
}

// Option changes a Store's defaults.
type Option func(*Store)

// WithClock sets the clock expiries are compared with (tests).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithMaxItems sets how many items the store holds at most.
func WithMaxItems(n int) Option { return func(s *Store) { s.maxItems = n } }

// New returns an empty Store.
func New(opts ...Option) *Store {
	s := &Store{now: time.Now, maxItems: DefaultMaxItems, items: map[string]item{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

var _ state.Store = (*Store)(nil)

// Claim implements state.Store.
func (s *Store) Claim(ctx context.Context, key string, expires time.Time) (bool, error) {
	if err := check(ctx, key); err != nil {
		return false, fmt.Errorf("memstate: claim: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if _, live := s.live(key, now); live {
		return false, nil
	}
	if err := s.set(key, item{ttl: ttl(expires, now)}, now); err != nil {
		return false, fmt.Errorf("memstate: claim: %w", err)
	}
	return true, nil
}

// Release implements state.Store.
func (s *Store) Release(ctx context.Context, key string) error {
	if err := check(ctx, key); err != nil {
		return fmt.Errorf("memstate: release: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.items, key)
	return nil
}

// Count implements state.Store.
func (s *Store) Count(ctx context.Context, key string, limit int, expires time.Time) (bool, error) {
	if err := check(ctx, key); err != nil {
		return false, fmt.Errorf("memstate: count: %w", err)
	}
	if limit < 1 {
		return false, nil // nothing may be counted: nothing to write
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if it, live := s.live(key, now); live {
		// A live item that is not a counter (n == 0) is never counted on,
		// as DynamoDB's condition on n fails for it.
		if it.n < 1 || it.n >= limit {
			return false, nil
		}
		it.n++ // the counter keeps the expiry of the count that started it
		s.items[key] = it
		return true, nil
	}
	if err := s.set(key, item{n: 1, ttl: ttl(expires, now)}, now); err != nil {
		return false, fmt.Errorf("memstate: count: %w", err)
	}
	return true, nil
}

// Put implements state.Store.
func (s *Store) Put(ctx context.Context, key string, value []byte, expires time.Time) error {
	if err := check(ctx, key); err != nil {
		return fmt.Errorf("memstate: put: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if err := s.set(key, item{value: clone(value), ttl: ttl(expires, now)}, now); err != nil {
		return fmt.Errorf("memstate: put: %w", err)
	}
	return nil
}

// PutNewer implements state.Store.
func (s *Store) PutNewer(ctx context.Context, key string, value []byte, version int64, expires time.Time) (bool, error) {
	if err := check(ctx, key); err != nil {
		return false, fmt.Errorf("memstate: put newer: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if it, live := s.live(key, now); live && !(it.hasVer && it.ver < version) {
		return false, nil
	}
	if err := s.set(key, item{value: clone(value), ver: version, hasVer: true, ttl: ttl(expires, now)}, now); err != nil {
		return false, fmt.Errorf("memstate: put newer: %w", err)
	}
	return true, nil
}

// Get implements state.Store.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := check(ctx, key); err != nil {
		return nil, fmt.Errorf("memstate: get: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	it, live := s.live(key, s.now())
	if !live {
		return nil, state.ErrNotFound
	}
	return clone(it.value), nil
}

// live returns key's item and whether it is live at now.
func (s *Store) live(key string, now time.Time) (item, bool) {
	it, ok := s.items[key]
	return it, ok && it.ttl >= now.Unix()
}

// set stores it under key, sweeping expired items when it is time to and
// refusing a new key when the store is full. The caller holds s.mu.
func (s *Store) set(key string, it item, now time.Time) error {
	sec := now.Unix()
	if sec-s.lastSweep >= int64(sweepInterval/time.Second) {
		s.sweep(sec)
	}
	if _, exists := s.items[key]; !exists && len(s.items) >= s.maxItems {
		if sec > s.lastSweep {
			s.sweep(sec)
		}
		if len(s.items) >= s.maxItems {
			return ErrFull
		}
	}
	s.items[key] = it
	return nil
}

func (s *Store) sweep(sec int64) {
	for k, it := range s.items {
		if it.ttl < sec {
			delete(s.items, k)
		}
	}
	s.lastSweep = sec
}

// ttl is expires in epoch seconds, shortened to state.MaxLife from now.
func ttl(expires, now time.Time) int64 {
	return min(expires.Unix(), now.Add(state.MaxLife).Unix())
}

// check refuses a cancelled context, as a network store would fail, and a
// key DynamoDB would refuse.
func check(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if key == "" || len(key) > MaxKeyBytes {
		return fmt.Errorf("a key must have 1 to %d bytes, not %d", MaxKeyBytes, len(key))
	}
	return nil
}

// clone copies a value so that neither the caller nor the store can change
// the other's; an empty value reads back as empty, not nil.
func clone(b []byte) []byte {
	return append([]byte{}, b...)
}
