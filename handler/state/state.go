// Package state is the port to what every instance of every function must
// share (docs/architecture.md, "Memory across instances"): one-time claims,
// counters within a limit, and values with an expiry. The cores say what
// the keys are (hashes and IDs only: never a name, an e-mail or IP address
// in clear, a redirect URL or document data); the adapters keep them, in
// one DynamoDB table on AWS (internal/lambda/dynamostate) or in the
// instance's memory for local runs (internal/lambda/memstate).
//
// Every decision is one conditional write, so that two instances racing
// cannot both win, and expiry is checked against the clock on every read
// and write: DynamoDB's Time to Live deletes expired items only eventually.
package state

import (
	"context"
	"errors"
	"time"
)

// MaxLife is the longest an item lives; an adapter shortens longer
// expiries to it.
const MaxLife = 30 * 24 * time.Hour

// ErrNotFound is Get's answer for a key with no live value.
var ErrNotFound = errors.New("state: not found")

// Store is what the rules need from the shared state. Each call is bounded
// by its context; an error means the state could not be read or written,
// and the caller's feature decides what follows (fail closed for limits,
// fail open for webhooks).
type Store interface {
	// Claim takes key until expires unless a live claim holds it. won is
	// true for exactly one of any number of concurrent callers.
	Claim(ctx context.Context, key string, expires time.Time) (won bool, err error)
	// Release gives a claim up (a publish failed: the redelivery may take
	// it).
	Release(ctx context.Context, key string) error
	// Count adds one to the counter key unless it has reached limit. The
	// counter lives until the expires of the count that started it; an
	// expired counter starts again from one. ok is false, and nothing is
	// added, when the limit was reached.
	Count(ctx context.Context, key string, limit int, expires time.Time) (ok bool, err error)
	// Put writes value under key until expires, replacing any value.
	Put(ctx context.Context, key string, value []byte, expires time.Time) error
	// PutNewer writes value under key unless a live value there has a
	// version at or above version (an older event never overwrites a newer
	// one). wrote reports whether it did.
	PutNewer(ctx context.Context, key string, value []byte, version int64, expires time.Time) (wrote bool, err error)
	// Get returns key's live value, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
}
