// Package webhook is the core of the second function: it receives
// ComplyCube's webhooks and tells the operator how each verification ended.
//
// It verifies the ComplyCube-Signature header (hex HMAC-SHA256 of the raw
// body, keyed with the secret's webhookSecret, compared in constant time)
// before it parses anything. A verified event is published once across all
// instances (a conditional claim on its ID in the shared state), as one
// short message built from fixed places of the event (IDs, type, status,
// outcome: never names, addresses, dates of birth or document data), and
// the client's latest status is recorded for the status function. Once the
// signature verifies it never answers 4xx: ComplyCube disables a webhook
// after ten failures. It knows nothing of
// API Gateway, SNS, Secrets Manager or environment variables, and shares
// only handler/api with the create-session core.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/complycube-session/createsession/handler/api"
	"github.com/complycube-session/createsession/handler/state"
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

// stateTimeout bounds the shared state's calls of one delivery: the
// webhook fails open (publishes) when the state does not answer in time.
const stateTimeout = 2 * time.Second

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
	store     state.Store
	log       api.RequestLog
	now       func() time.Time
	served    atomic.Bool
}

// New returns a Receiver; store is the shared state (event claims, each
// client's latest status); log receives one record per request.
func New(secrets SecretSource, publisher Publisher, store state.Store, log api.RequestLog) *Receiver {
	return &Receiver{secrets: secrets, publisher: publisher, store: store, log: log, now: time.Now}
}

// Event is the part of a ComplyCube event the operator is told: the
// event's own id, type, resourceType and createdAt, and from its payload
// the top-level id, clientId, checkId, workflowSessionId, status and
// outcome, and a check's result.outcome. Nothing else is read, whatever
// its name, so the same event always gives the same message.
type Event struct {
	ID                string `json:"id"`
	Type              string `json:"type"`
	ResourceType      string `json:"resourceType,omitempty"`
	CreatedAt         string `json:"createdAt,omitempty"`
	ResourceID        string `json:"resourceId,omitempty"`
	ClientID          string `json:"clientId,omitempty"`
	CheckID           string `json:"checkId,omitempty"`
	WorkflowSessionID string `json:"workflowSessionId,omitempty"`
	Status            string `json:"status,omitempty"`
	Outcome           string `json:"outcome,omitempty"`
	ResultOutcome     string `json:"resultOutcome,omitempty"`
}

// Serve answers one webhook request. It never panics.
func (rc *Receiver) Serve(ctx context.Context, req api.Request) (resp api.Response) {
	start := rc.now()
	first := !rc.served.Swap(true)
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
	resp       api.Response
	errType    string
	cause      error
	eventID    string
	eventType  string
	duplicate  bool
	published  bool
	unreadable bool
	stateError error // the shared state failed; the event was published anyway
	recorded   bool  // the client's status was recorded
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
		return rc.unreadable(ctx, err)
	}
	o := outcome{eventID: ev.ID, eventType: ev.Type}
	sctx, cancel := context.WithTimeout(ctx, stateTimeout)
	defer cancel()
	claimKey := state.EventClaimKey(ev.ID)
	won, err := rc.store.Claim(sctx, claimKey, rc.now().Add(state.EventClaimLife))
	switch {
	case err != nil:
		// Better a second e-mail than a lost outcome: publish anyway.
		o.stateError, won = fmt.Errorf("claim event: %w", err), false
	case !won:
		// Published by an instance before (a retry whose first answer
		// ComplyCube missed, or two deliveries at once): told once.
		o.resp, o.duplicate = ok(), true
		return o
	}
	if st, found := clientStatus(ev, rc.now()); found && o.stateError == nil {
		wrote, err := rc.store.PutNewer(sctx, state.ClientStatusKey(ev.ClientID), st.Encode(), st.UpdatedAt.UnixMilli(), rc.now().Add(state.ClientStatusLife))
		if err != nil {
			o.stateError = fmt.Errorf("record status: %w", err)
		}
		o.recorded = wrote
	}
	pctx, cancelPublish := context.WithTimeout(ctx, PublishTimeout)
	defer cancelPublish()
	if err := rc.publisher.Publish(pctx, subject(ev), message(ev)); err != nil {
		if won {
			// So that ComplyCube's next delivery is published.
			if rerr := rc.store.Release(context.WithoutCancel(sctx), claimKey); rerr != nil {
				err = fmt.Errorf("%w (and the claim could not be released: %v)", err, rerr)
			}
		}
		f := failure(http.StatusBadGateway, api.TypeUpstreamError, "The event could not be passed on; send it again.", err)
		f.eventID, f.eventType, f.stateError = ev.ID, ev.Type, o.stateError
		return f
	}
	o.resp, o.published = ok(), true
	return o
}

// unreadable answers a verified event that cannot be read: 200, since
// ComplyCube would send the same bytes again and disable the webhook after
// ten failures, and the operator is told that one arrived (its size and
// why, nothing of its content).
func (rc *Receiver) unreadable(ctx context.Context, why error) outcome {
	o := outcome{resp: ok(), unreadable: true, cause: why}
	pctx, cancel := context.WithTimeout(ctx, PublishTimeout)
	defer cancel()
	msg := "A webhook signed with your webhook secret arrived, but it could not be read: " + why.Error() + ". Nothing of its content is repeated here; see ComplyCube's dashboard for the event."
	if err := rc.publisher.Publish(pctx, "ComplyCube webhook: an event that could not be read", msg); err != nil {
		o.cause = fmt.Errorf("%w; telling the operator failed too: %v", why, err)
		return o
	}
	o.published = true
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

// parseEvent reads one JSON object with a string id and type, and the
// fixed places of its payload; a payload member of another type is left
// out, not an error.
func parseEvent(body []byte) (Event, error) {
	if !jsontext.Value(body).IsValid() || jsontext.Value(body).Kind() != '{' {
		return Event{}, errors.New("not one JSON object without duplicate names")
	}
	var raw struct {
		ID           *string         `json:"id"`
		Type         *string         `json:"type"`
		ResourceType json.RawMessage `json:"resourceType"`
		CreatedAt    json.RawMessage `json:"createdAt"`
		Payload      json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return Event{}, errors.New("its id or type is not a string")
	}
	if raw.ID == nil || !plain(*raw.ID, 128) || raw.Type == nil || !plain(*raw.Type, 128) {
		return Event{}, errors.New("no string id and type of a plain form")
	}
	ev := Event{ID: *raw.ID, Type: *raw.Type, ResourceType: plainString(raw.ResourceType, 64), CreatedAt: plainString(raw.CreatedAt, 40)}
	var payload map[string]json.RawMessage
	if json.Unmarshal(raw.Payload, &payload) == nil {
		ev.ResourceID = plainString(payload["id"], 64)
		ev.ClientID = plainString(payload["clientId"], 64)
		ev.CheckID = plainString(payload["checkId"], 64)
		ev.WorkflowSessionID = plainString(payload["workflowSessionId"], 64)
		ev.Status = plainString(payload["status"], 40)
		ev.Outcome = plainString(payload["outcome"], 40)
		var result map[string]json.RawMessage
		if json.Unmarshal(payload["result"], &result) == nil {
			ev.ResultOutcome = plainString(result["outcome"], 40)
		}
	}
	return ev, nil
}

// plainString is raw's value when it is a JSON string of a plain form of
// at most max characters, else "".
func plainString(raw json.RawMessage, max int) string {
	var s string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil || !plain(s, max) {
		return ""
	}
	return s
}

// outcomes are the outcomes the status function tells.
var outcomes = map[string]bool{"clear": true, "attention": true, "rejected": true}

// clientStatus is what ev says of its client's verification, if anything:
// workflow session events give the status (and, completed, the outcome),
// completed checks the outcome. Event names are matched by their last
// part, since ComplyCube's workflow event names are not confirmed.
func clientStatus(ev Event, now time.Time) (state.ClientStatus, bool) {
	if ev.ClientID == "" {
		return state.ClientStatus{}, false
	}
	at, err := time.Parse(time.RFC3339Nano, ev.CreatedAt)
	if err != nil {
		at = now
	}
	st := state.ClientStatus{UpdatedAt: at.UTC()}
	parts := strings.Split(ev.Type, ".")
	last := parts[len(parts)-1]
	switch {
	case strings.HasPrefix(ev.Type, "workflow.session.") || strings.HasPrefix(ev.Type, "workflowSession."):
		switch last {
		case "started":
			st.Status = state.StatusStarted
		case "processing":
			st.Status = state.StatusProcessing
		case "completed", "complete":
			st.Status = state.StatusCompleted
		case "cancelled", "abandoned":
			st.Status = state.StatusCancelled
		default:
			return state.ClientStatus{}, false
		}
		if st.Status == state.StatusCompleted && outcomes[ev.Outcome] {
			st.Outcome = ev.Outcome
		}
	case ev.Type == "check.completed" || strings.HasPrefix(ev.Type, "check.completed."):
		st.Status = state.StatusCompleted
		switch {
		case outcomes[ev.ResultOutcome]:
			st.Outcome = ev.ResultOutcome
		case outcomes[ev.Outcome]:
			st.Outcome = ev.Outcome
		case outcomes[last]:
			st.Outcome = last
		}
	default:
		return state.ClientStatus{}, false
	}
	return st, true
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

// subject is the message's short subject: the event type, its outcome or
// status, and its client (SNS allows 100 characters).
func subject(ev Event) string {
	s := "ComplyCube " + ev.Type
	switch {
	case ev.ResultOutcome != "":
		s += " (" + ev.ResultOutcome + ")"
	case ev.Outcome != "":
		s += " (" + ev.Outcome + ")"
	case ev.Status != "":
		s += " (" + ev.Status + ")"
	}
	if ev.ClientID != "" {
		s += " clientId=" + ev.ClientID
	}
	if len(s) > 100 {
		s = s[:100]
	}
	return s
}

// message is the body: the Event's fields, in a fixed order.
func message(ev Event) string {
	b, _ := json.MarshalIndent(ev, "", "  ")
	return string(b)
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
	if o.unreadable {
		rec.Attrs = append(rec.Attrs, slog.Bool("unreadable", true))
	}
	if o.recorded {
		rec.Attrs = append(rec.Attrs, slog.Bool("statusRecorded", true))
	}
	if o.stateError != nil {
		rec.Attrs = append(rec.Attrs, slog.String("stateError", o.stateError.Error()))
	}
	rec.Metrics = metrics(o, first)
	rc.log.Write(&rec)
}
