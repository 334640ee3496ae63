package state

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
)

// The keys of the shared state. Each names what it holds and carries only
// a hash or a ComplyCube ID; the prefix keeps the kinds apart in one table.

// StatusTokenLife is how long a status token works: the life of a
// ComplyCube session.
const StatusTokenLife = 14 * 24 * time.Hour

// ClientStatusLife is how long a client's latest status is kept.
const ClientStatusLife = MaxLife

// EventClaimLife is how long an event ID stays claimed: longer than
// ComplyCube's ten retries with growing delays.
const EventClaimLife = 7 * 24 * time.Hour

// NewStatusToken returns a fresh status token: 128 random bits, URL-safe.
func NewStatusToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// StatusTokenKey is where a token's client is kept: under the token's
// SHA-256, so that the table never holds a working token.
func StatusTokenKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "token#" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// StatusTokenRecord is what a status token's key holds: the client its
// session is for, and when the token was issued. The status function tells
// only what happened after that: a second session for the same client, or
// a token got by someone who only knows the client's ID, does not show an
// earlier session's outcome.
type StatusTokenRecord struct {
	ClientID string
	IssuedAt time.Time
}

// Encode is the value stored: "<unix milliseconds> <client ID>".
func (r StatusTokenRecord) Encode() []byte {
	return []byte(strconv.FormatInt(r.IssuedAt.UnixMilli(), 10) + " " + r.ClientID)
}

// DecodeStatusTokenRecord reads a stored value.
func DecodeStatusTokenRecord(b []byte) (StatusTokenRecord, error) {
	ms, client, ok := strings.Cut(string(b), " ")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || client == "" {
		return StatusTokenRecord{}, errors.New("not a status token record")
	}
	return StatusTokenRecord{ClientID: client, IssuedAt: time.UnixMilli(n).UTC()}, nil
}

// ClientStatusKey is where a client's latest status is kept.
func ClientStatusKey(clientID string) string { return "client#" + clientID }

// EventClaimKey is the claim on a webhook event's ID.
func EventClaimKey(eventID string) string { return "event#" + eventID }

// The statuses a person's verification can have (the status function's
// "status"): "pending" means no event has arrived yet.
const (
	StatusPending    = "pending"
	StatusStarted    = "started"
	StatusProcessing = "processing"
	StatusCompleted  = "completed"
	StatusCancelled  = "cancelled"
)

// ClientStatus is a client's latest status, as the webhook learned it.
type ClientStatus struct {
	Status    string    `json:"status"`
	Outcome   string    `json:"outcome,omitempty"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Encode is the value stored.
func (s ClientStatus) Encode() []byte {
	b, _ := json.Marshal(s)
	return b
}

// DecodeClientStatus reads a stored value.
func DecodeClientStatus(b []byte) (ClientStatus, error) {
	var s ClientStatus
	err := json.Unmarshal(b, &s)
	return s, err
}
