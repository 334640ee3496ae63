package handler

import (
	"context"
	"errors"
)

// The core's ports: the small interfaces it needs from the outside world,
// which the adapters in internal/lambda implement. The core imports none of
// them.

// KeySource hands out the ComplyCube API key.
type KeySource interface {
	Key(ctx context.Context) (string, error)
	// Refresh is called after ComplyCube rejected `rejected`; it returns a
	// different key or an error.
	Refresh(ctx context.Context, rejected string) (string, error)
}

// InvitationKeySource hands out the key that signs invitations.
type InvitationKeySource interface {
	InvitationKey(ctx context.Context) ([]byte, error)
	// RefreshInvitationKey is called after a signature did not verify with
	// `rejected`; it returns a different key or an error.
	RefreshInvitationKey(ctx context.Context, rejected []byte) ([]byte, error)
}

// Secrets is the function's one secret: the API key and the invitation key.
type Secrets interface {
	KeySource
	InvitationKeySource
	// HashKey is the key of the keyed hashes under which IP and e-mail
	// addresses are counted and logged, derived from the secret.
	HashKey(ctx context.Context) ([]byte, error)
}

// ComplyCube is the API the function calls.
type ComplyCube interface {
	// CreateFlowSession posts to /v1/flow/sessions.
	CreateFlowSession(ctx context.Context, apiKey string, body []byte) (UpstreamResponse, error)
	// CreateClient posts to /v1/clients. An implementation never retries a
	// creation that may have reached ComplyCube.
	CreateClient(ctx context.Context, apiKey string, body []byte) (UpstreamResponse, error)
}

// UpstreamResponse is ComplyCube's answer, as far as the core needs it.
type UpstreamResponse struct {
	Status     int
	Body       []byte
	RetryAfter string // the Retry-After header, as sent
	Attempts   int    // how many HTTP calls were made
}

// ErrUpstreamTimeout is what a ComplyCube returns (wrapped) when
// ComplyCube did not answer within its timeout or the caller's deadline;
// the core answers 504 for it and 502 for any other error.
var ErrUpstreamTimeout = errors.New("complycube did not answer in time")

// BotCheck asks a bot check (Cloudflare Turnstile) whether a token was
// earned by a person. An error means the check could not be asked (no
// answer in time, a 5xx, an answer that is not the check's, no secret key):
// the core answers 503 for it, and refuses only on a verdict.
type BotCheck interface {
	Verify(ctx context.Context, token, remoteIP string) (BotVerdict, error)
}

// BotVerdict is the bot check's answer.
type BotVerdict struct {
	Success bool
	// Hostname is the host the token was solved on; the core accepts it
	// only when it is the host of an allowed origin.
	Hostname   string
	ErrorCodes []string
}
