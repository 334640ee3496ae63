// Package webhook is the core of the second function: it receives
// ComplyCube's webhooks and tells the operator how each verification ended.
//
// It verifies the ComplyCube-Signature header (hex HMAC-SHA256 of the raw
// body, keyed with the secret's webhookSecret, compared in constant time)
// before it parses anything; a verified event becomes one short message of
// IDs, type, status and outcome (never names, addresses, dates of birth or
// document data) published through a Publisher port. It knows nothing of
// API Gateway, SNS, Secrets Manager or environment variables, and shares
// only handler/api with the create-session core.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/complycube-session/createsession/handler/api"
)

// MaxBodyBytes is the largest webhook body taken; ComplyCube's events are
// a few kilobytes.
const MaxBodyBytes = 256 << 10

// SignatureHeader is where ComplyCube puts its signature.
const SignatureHeader = "ComplyCube-Signature"

// PublishTimeout bounds one publish: ComplyCube gives up on a webhook
// after 15 s, and a publish that takes longer is better answered 502 (so
// that ComplyCube sends the event again) than not answered at all.
const PublishTimeout = 8 * time.Second

// seenCapacity bounds the event IDs an instance remembers.
const seenCapacity = 10000

// SecretSource hands out the webhook secret (secret.Cache implements it).
type SecretSource interface {
	WebhookSecret(ctx context.Context) (string, error)
	// RefreshWebhookSecret is called after a signature did not verify with
	// `rejected`; it returns a different secret or an error.
	RefreshWebhookSecret(ctx context.Context, rejected string) (string, error)
}

// Publisher tells the operator (the SNS adapter, or the dev server's log).
type Publisher interface {
	Publish(ctx context.Context, subject, message string) error
}

// Receiver answers webhook requests.
type Receiver struct {
	secrets   SecretSource
	publisher Publisher
	log       api.RequestLog
	now       func() time.Time

	mu       sync.Mutex
	seen     map[string]bool // published, or being published
	seenList []string        // in order, to forget the oldest
	served   bool
}

// New returns a Receiver; log receives one record per request.
func New(secrets SecretSource, publisher Publisher, log api.RequestLog) *Receiver {
	return &Receiver{secrets: secrets, publisher: publisher, log: log, now: time.Now, seen: map[string]bool{}}
}

// Event is the part of a ComplyCube event the operator is told.
type Event struct {
	ID           string `json:"id"`
	Type         string `json:"type"`
	ResourceType string `json:"resourceType,omitempty"`
	CreatedAt    string `json:"createdAt,omitempty"`
	// From the payload: IDs, status and outcome, nothing else.
	IDs     map[string]string `json:"ids,omitempty"`
	Status  string            `json:"status,omitempty"`
	Outcome string            `json:"outcome,omitempty"`
}

// Serve answers one webhook request. It never panics.
func (rc *Receiver) Serve(ctx context.Context, req api.Request) (resp api.Response) {
	start := rc.now()
	rc.mu.Lock()
	first := !rc.served
	rc.served = true
	rc.mu.Unlock()
	var o outcome
	defer func() {
		if p := recover(); p != nil {
			o = failure(http.StatusInternalServerError, api.TypeInternalError, "The webhook could not be handled.", errors.New("panic"))
		}
		resp = o.resp
		rc.logRequest(req, o, first, start)
	}()
	o = rc.serve(ctx, req)
	return o.resp
}

type outcome struct {
	resp      api.Response
	errType   string
	cause     error
	eventID   string
	eventType string
	duplicate bool
	published bool
}

func (rc *Receiver) serve(ctx context.Context, req api.Request) outcome {
	if req.Method != http.MethodPost {
		o := failure(http.StatusMethodNotAllowed, api.TypeMethodNotAllowed, "Only POST is allowed.", nil)
		o.resp.Header.Set("Allow", "POST")
		return o
	}
	if len(req.Body) > MaxBodyBytes {
		return failure(http.StatusRequestEntityTooLarge, api.TypeRequestTooLarge, "The body is larger than 256 KiB.", nil)
	}
	if req.BadEncoding {
		return failure(http.StatusUnauthorized, typeInvalidSignature, "The signature does not match the body.", errors.New("the body is marked base64 but is not valid base64"))
	}
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-api.DeadlineMargin))
		defer cancel()
	}
	if o, ok := rc.verify(ctx, req); !ok {
		return o
	}
	ev, err := parseEvent(req.Body)
	if err != nil {
		return failure(http.StatusBadRequest, api.TypeInvalidRequest, "The body must be one JSON object with a string id and type.", err)
	}
	o := outcome{eventID: ev.ID, eventType: ev.Type}
	if !rc.claim(ev.ID) {
		// Seen before by this instance: ComplyCube sent it again (a retry
		// whose first answer it missed, or a replay). Told once is enough.
		o.resp, o.duplicate = ok(), true
		return o
	}
	pctx, cancel := context.WithTimeout(ctx, PublishTimeout)
	defer cancel()
	if err := rc.publisher.Publish(pctx, subject(ev), message(ev)); err != nil {
		rc.release(ev.ID) // so that ComplyCube's next delivery is published
		f := failure(http.StatusBadGateway, api.TypeUpstreamError, "The event could not be passed on; send it again.", err)
		f.eventID, f.eventType = ev.ID, ev.Type
		return f
	}
	o.resp, o.published = ok(), true
	return o
}

// typeInvalidSignature is the error type of a refused signature.
const typeInvalidSignature = "invalid_signature"

// verify checks the signature over the exact bytes received. When it does
// not match, the secret is read again (at most once a second, by the
// secret's rule) and the signature checked with a rotated one.
func (rc *Receiver) verify(ctx context.Context, req api.Request) (outcome, bool) {
	got := req.Header.Values(SignatureHeader)
	if len(got) != 1 || got[0] == "" {
		return failure(http.StatusUnauthorized, typeInvalidSignature, "The signature does not match the body.", errors.New("no single "+SignatureHeader+" header")), false
	}
	secret, err := rc.secrets.WebhookSecret(ctx)
	if err != nil {
		o := failure(http.StatusServiceUnavailable, api.TypeServiceUnavailable, "The service is not available right now.", err)
		o.resp.Header.Set("Retry-After", "2")
		return o, false
	}
	if signatureMatches(got[0], secret, req.Body) {
		return outcome{}, true
	}
	if rotated, rerr := rc.secrets.RefreshWebhookSecret(ctx, secret); rerr == nil && signatureMatches(got[0], rotated, req.Body) {
		return outcome{}, true
	}
	return failure(http.StatusUnauthorized, typeInvalidSignature, "The signature does not match the body.", errors.New("the signature does not verify")), false
}

// signatureMatches compares sig with the lower-case hex HMAC-SHA256 of
// body under secret, in constant time. Upper-case hex, a prefix, a doubled
// signature or one over other bytes do not match.
func signatureMatches(sig, secret string, body []byte) bool {
	want := Sign(secret, body)
	return subtle.ConstantTimeCompare([]byte(sig), []byte(want)) == 1
}

// Sign returns the ComplyCube-Signature for body: what ComplyCube, and the
// simulator, send.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// claim marks id as being published, or reports that it was seen before.
func (rc *Receiver) claim(id string) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.seen[id] {
		return false
	}
	rc.seen[id] = true
	rc.seenList = append(rc.seenList, id)
	if len(rc.seenList) > seenCapacity {
		delete(rc.seen, rc.seenList[0])
		rc.seenList = rc.seenList[1:]
	}
	return true
}

// release forgets id after a failed publish.
func (rc *Receiver) release(id string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	delete(rc.seen, id)
}

// parseEvent reads one JSON object with a string id and type. The payload
// is searched for IDs, a status and an outcome, and for nothing else.
func parseEvent(body []byte) (Event, error) {
	if !jsontext.Value(body).IsValid() || jsontext.Value(body).Kind() != '{' {
		return Event{}, errors.New("not one JSON object without duplicate names")
	}
	var raw struct {
		ID           *string         `json:"id"`
		Type         *string         `json:"type"`
		ResourceType string          `json:"resourceType"`
		CreatedAt    string          `json:"createdAt"`
		Payload      json.RawMessage `json:"payload"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil {
		return Event{}, errors.New("the event's fields have the wrong types")
	}
	if raw.ID == nil || !plain(*raw.ID, 128) || raw.Type == nil || !plain(*raw.Type, 128) {
		return Event{}, errors.New("no string id and type of a plain form")
	}
	ev := Event{ID: *raw.ID, Type: *raw.Type}
	if plain(raw.ResourceType, 64) {
		ev.ResourceType = raw.ResourceType
	}
	if plain(raw.CreatedAt, 40) {
		ev.CreatedAt = raw.CreatedAt
	}
	var payload any
	if len(raw.Payload) > 0 && json.Unmarshal(raw.Payload, &payload) == nil {
		collect(&ev, "", payload, 0)
	}
	return ev, nil
}

// collect walks the payload for the few fields the operator is told: keys
// named id or ending in Id (prefixed by where they stand), status and
// outcome, each a short value of a plain form. Everything else (names,
// e-mail addresses, addresses, dates of birth, document numbers) is left
// where it is.
func collect(ev *Event, path string, v any, depth int) {
	if depth > 4 {
		return
	}
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	for k, x := range m {
		s, isString := x.(string)
		switch {
		case isString && (k == "id" || strings.HasSuffix(k, "Id")) && plain(s, 64):
			if ev.IDs == nil {
				ev.IDs = map[string]string{}
			}
			name := k
			if k == "id" {
				name = strings.TrimSuffix(path, ".")
				if name == "" {
					name = "resource"
				}
				name += "Id"
			}
			if len(ev.IDs) < 10 {
				ev.IDs[name] = s
			}
		case isString && k == "status" && plain(s, 40) && ev.Status == "":
			ev.Status = s
		case isString && k == "outcome" && plain(s, 40) && ev.Outcome == "":
			ev.Outcome = s
		case !isString:
			collect(ev, path+k+".", x, depth+1)
		}
	}
}

// plain reports a value of at most max characters of letters, digits and
// _ - . : (IDs, types, statuses, timestamps): nothing that could be a
// name, an address or free text.
func plain(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// subject is the message's short subject: the event type and its IDs
// (SNS allows 100 characters).
func subject(ev Event) string {
	s := "ComplyCube " + ev.Type
	if ev.Outcome != "" {
		s += " (" + ev.Outcome + ")"
	} else if ev.Status != "" {
		s += " (" + ev.Status + ")"
	}
	for _, k := range sortedKeys(ev.IDs) {
		if len(s)+len(k)+len(ev.IDs[k])+3 > 100 {
			break
		}
		s += " " + k + "=" + ev.IDs[k]
	}
	if len(s) > 100 {
		s = s[:100]
	}
	return s
}

func message(ev Event) string {
	b, _ := json.MarshalIndent(ev, "", "  ")
	return string(b)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func ok() api.Response {
	h := http.Header{"Cache-Control": {"no-store"}, "Content-Type": {"application/json"}}
	return api.Response{Status: http.StatusOK, Header: h, Body: []byte(`{"received":true}`)}
}

func failure(status int, typ, message string, cause error) outcome {
	return outcome{resp: api.ErrorResponse(status, api.Error{Type: typ, Message: message}), errType: typ, cause: cause}
}

func (rc *Receiver) logRequest(req api.Request, o outcome, first bool, start time.Time) {
	rec := api.Record{Message: "webhook", Request: req, Status: o.resp.Status, Took: rc.now().Sub(start), ColdStart: first, ErrType: o.errType, Cause: o.cause}
	if o.eventID != "" {
		rec.Attrs = append(rec.Attrs, slog.String("eventId", o.eventID), slog.String("eventType", o.eventType))
	}
	if o.duplicate {
		rec.Attrs = append(rec.Attrs, slog.Bool("duplicate", true))
	}
	if o.published {
		rec.Attrs = append(rec.Attrs, slog.Bool("published", true))
	}
	rec.Metrics = metrics(o, first)
	rc.log.Write(&rec)
}
