// Package handler is the create-session function's core: the rules of the
// contract (CORS, validation, who is being verified, calling ComplyCube
// through a port, mapping its answers, what a request's log line says) in
// SessionStarter. It knows nothing of API Gateway's event shapes, of HTTP
// clients, of environment variables or of AWS: the adapters in
// internal/lambda feed it api.Requests and implement the ports it declares
// in types.go, and the wiring in internal/lambda/sessionfn configures it.
package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/complycube-session/createsession/handler/api"
	"github.com/complycube-session/createsession/handler/cors"
	"github.com/complycube-session/createsession/handler/invitation"
	"github.com/complycube-session/createsession/handler/state"
)

// retryAfterUnavailable is sent with 503 when the key cannot be read; the
// key is read again at most once a second.
const retryAfterUnavailable = "2"

// SessionStarter answers create-session requests: it decides who is
// verified and starts their ComplyCube session.
type SessionStarter struct {
	cfg       Config
	validator Validator
	keys      Secrets
	upstream  ComplyCube
	store     state.Store
	bots      BotCheck
	limits    SignupLimits
	log       api.RequestLog
	now       func() time.Time
	served    atomic.Bool
}

// NewSessionStarter returns a SessionStarter; store is the shared state
// (status tokens, sign-up and invitation counts); bots the bot check (nil
// unless cfg.BotCheck: with cfg.BotCheck and no bots, every sign-up is a
// 503, never let through); log receives one record per request.
func NewSessionStarter(cfg Config, keys Secrets, upstream ComplyCube, store state.Store, bots BotCheck, log api.RequestLog) *SessionStarter {
	limits := cfg.SignupLimits
	limits.PerIP = orDefault(limits.PerIP, DefaultSignupsPerIP)
	limits.PerEmail = orDefault(limits.PerEmail, DefaultSignupsPerEmail)
	limits.PerDay = orDefault(limits.PerDay, DefaultSignupsPerDay)
	cfg.InvitationMaxSessions = orDefault(cfg.InvitationMaxSessions, DefaultInvitationMaxSessions)
	return &SessionStarter{
		limits:    limits,
		bots:      bots,
		validator: Validator{TemplateIDs: cfg.TemplateIDs, RedirectOrigins: cfg.RedirectOrigins, Source: cfg.ClientSource, BotCheck: cfg.BotCheck, SupportEmails: cfg.SupportEmails},
		cfg:       cfg,
		keys:      keys,
		upstream:  upstream,
		store:     store,
		log:       log,
		now:       time.Now,
	}
}

// outcome is what one request did, for its log line.
type outcome struct {
	resp           api.Response
	errType        string
	keyUnreadable  bool // the 503 is for the secret
	cause          error
	upstreamStatus int           // of the last ComplyCube call
	attempts       int           // HTTP calls to ComplyCube, all calls together
	upstreamTime   time.Duration // spent waiting for ComplyCube
	keyRefreshed   bool
	keyRejected    bool // ComplyCube refused the key, and no other one helped
	// signup: the client call's status and the new client's ID (logged,
	// never answered).
	clientStatus  int
	newClientID   string
	invitationFor string // invitation: the client the token named
	stateError    error  // the shared state failed
	refusedFor    string // a sign-up refused before ComplyCube: bot, ip, email or day
}

func orDefault(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

// Serve answers one request. It never panics: an unexpected panic becomes a
// 500 internal_error and a log line.
func (h *SessionStarter) Serve(ctx context.Context, req api.Request) (resp api.Response) {
	start := h.now()
	first := !h.served.Swap(true)
	origin, allowed, fromBrowser := cors.Check(h.cfg.AllowedOrigins, req)
	var out outcome
	defer func() {
		if p := recover(); p != nil {
			out = outcome{errType: api.TypeInternalError, cause: errors.New("panic: " + panicString(p))}
			out.resp = api.ErrorResponse(http.StatusInternalServerError, api.Error{Type: api.TypeInternalError, Message: "The request could not be handled."})
			cors.AddHeaders(out.resp, origin, allowed)
		}
		resp = out.resp
		h.logRequest(req, out, first, start)
	}()
	out = h.serve(ctx, req, allowed, fromBrowser)
	cors.AddHeaders(out.resp, origin, allowed)
	return out.resp
}

func panicString(p any) string {
	if err, ok := p.(error); ok {
		return err.Error()
	}
	if s, ok := p.(string); ok {
		return s
	}
	return "unexpected value"
}

// serve answers a request; originAllowed says whether its Origin header,
// if any, is on the allowlist.
func (h *SessionStarter) serve(ctx context.Context, req api.Request, originAllowed, fromBrowser bool) outcome {
	if resp, errType, stop := cors.Gate(originAllowed, fromBrowser, req, MaxBodyBytes); stop {
		return outcome{resp: resp, errType: errType}
	}
	vr, ferr := h.validator.Validate(req.Body)
	if ferr != nil {
		o := invalidOutcome(ferr)
		if ferr == invalidInvitation {
			o.cause = errors.New("the invitation is not a string of 1 to 2048 characters")
		}
		return o
	}
	// One deadline for everything that follows, ComplyCube calls included:
	// the answer goes out DeadlineMargin before Lambda's deadline.
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-api.DeadlineMargin))
		defer cancel()
	}
	var pre outcome // what came before the session call, for the log line
	switch h.cfg.ClientSource {
	case SourceInvitation:
		inv, o, ok := h.checkInvitation(ctx, vr.invitation)
		if !ok {
			return o
		}
		pre.invitationFor = inv.ClientID
		vr.session.ClientID = inv.ClientID
		if inv.WorkflowTemplateID != "" {
			// The token's template replaces the body's, and must pass the
			// allowlist; a refusal says no more than any other.
			if len(h.cfg.TemplateIDs) > 0 && !slices.Contains(h.cfg.TemplateIDs, inv.WorkflowTemplateID) {
				o := invalidOutcome(invalidInvitation)
				o.cause, o.invitationFor = errors.New("the invitation's wft is not on the workflow template allowlist"), inv.ClientID
				return o
			}
			vr.session.WorkflowTemplateID = inv.WorkflowTemplateID
		} else if vr.session.WorkflowTemplateID == "" {
			return invalidOutcome(invalid("workflowTemplateId", "'workflowTemplateId' is required"))
		}
		if o, ok := h.countInvitation(ctx, vr.invitation, inv); !ok {
			o.invitationFor = inv.ClientID
			return o
		}
	case SourceSignup:
		if h.cfg.BotCheck {
			if o, ok := h.checkBot(ctx, vr.botToken, req.SourceIP); !ok {
				return o
			}
		}
		hashKey, err := h.keys.HashKey(ctx)
		if err != nil {
			return keyUnavailable(err)
		}
		if o, ok := h.takeSignupPlaces(ctx, hashKey, req.SourceIP, vr.client.Email); !ok {
			return o
		}
		body, err := json.Marshal(vr.client)
		if err != nil {
			return fail(http.StatusInternalServerError, api.TypeInternalError, "The request could not be handled.", err)
		}
		id, o, ok := h.createClient(ctx, body)
		if !ok {
			return o
		}
		pre = o
		vr.session.ClientID = id
	}
	payload, err := json.Marshal(vr.session)
	if err != nil {
		return fail(http.StatusInternalServerError, api.TypeInternalError, "The request could not be handled.", err)
	}
	// The status token is written while ComplyCube creates the session, so
	// that the table adds no round trip to the answer; a token whose
	// session then fails is orphaned, a hash that expires.
	token, tokenSaved := h.saveStatusToken(ctx, vr.session.ClientID)
	o := h.call(ctx, h.upstream.CreateFlowSession, payload, func(status int, body []byte) outcome {
		return sessionAnswer(status, body, token)
	})
	if o.resp.Status == http.StatusOK {
		// A session that exists is never turned into an error: if the token
		// could not be stored, the page's status check answers 404 and
		// the page says it cannot tell yet.
		select {
		case o.stateError = <-tokenSaved:
		case <-ctx.Done():
			// The answer must go out before Lambda's deadline: the token's
			// write goes on, bounded, and the page's status check says
			// pending or unknown.
			o.stateError = errors.New("the status token's write had not finished by the deadline")
		}
	}
	o.attempts += pre.attempts
	o.upstreamTime += pre.upstreamTime
	o.keyRefreshed = o.keyRefreshed || pre.keyRefreshed
	o.clientStatus, o.newClientID, o.invitationFor = pre.clientStatus, pre.newClientID, pre.invitationFor
	return o
}

func invalidOutcome(ferr *fieldError) outcome {
	// param is omitted from the JSON when no one field is at fault.
	return outcome{resp: api.ErrorResponse(http.StatusBadRequest, api.Error{Type: api.TypeInvalidRequest, Message: ferr.message, Param: ferr.param}), errType: api.TypeInvalidRequest}
}

// checkInvitation verifies the token. When the signature does not verify,
// the invitation key is read again (at most once a second, by the secret's
// rule) and the token checked with a rotated key. ok is false when o is
// the answer.
func (h *SessionStarter) checkInvitation(ctx context.Context, token string) (inv invitation.Claims, o outcome, ok bool) {
	// A token that is not a well-formed HS256 one never costs a key read.
	if err := invitation.CheckForm(token); err != nil {
		o := invalidOutcome(invalidInvitation)
		o.cause = err
		return inv, o, false
	}
	key, err := h.keys.InvitationKey(ctx)
	if err != nil {
		return inv, keyUnavailable(err), false
	}
	now := h.now()
	inv, err = invitation.Verify(token, key, now)
	if errors.Is(err, invitation.ErrSignature) {
		if rotated, rerr := h.keys.RefreshInvitationKey(ctx, key); rerr == nil {
			inv, err = invitation.Verify(token, rotated, now)
		}
	}
	if err != nil {
		o := invalidOutcome(invalidInvitation)
		o.cause = err // which check failed goes to the log only
		return inv, o, false
	}
	return inv, outcome{}, true
}

// createClient creates the signup's client. ok is false when o is the
// answer; else id is the new client's.
func (h *SessionStarter) createClient(ctx context.Context, body []byte) (id string, o outcome, ok bool) {
	o = h.call(ctx, h.upstream.CreateClient, body, func(status int, body []byte) outcome {
		id, found := stringMember(body, "id")
		if !found || !api.ValidID(id) {
			return upstreamFailure(status, "complycube answered "+strconv.Itoa(status)+" to the client creation without a usable string id")
		}
		return outcome{newClientID: id, upstreamStatus: status}
	})
	o.clientStatus = o.upstreamStatus
	if o.resp.Status != 0 {
		return "", o, false
	}
	return o.newClientID, o, true
}

func unavailable(cause error) outcome {
	o := fail(http.StatusServiceUnavailable, api.TypeServiceUnavailable, "The service is not available right now. Try again shortly.", cause)
	o.resp.Header.Set("Retry-After", retryAfterUnavailable)
	return o
}

// keyUnavailable is the answer when the secret could not be read.
func keyUnavailable(cause error) outcome {
	o := unavailable(cause)
	o.keyUnreadable = true
	return o
}

// call makes one ComplyCube call with the API key. On a 401 or 403 it reads
// the key again and, when it changed (rotation), calls once more. The
// answer maps as the contract's table says, a success through onSuccess.
func (h *SessionStarter) call(ctx context.Context, do func(ctx context.Context, apiKey string, body []byte) (UpstreamResponse, error), payload []byte, onSuccess func(status int, body []byte) outcome) outcome {
	key, err := h.keys.Key(ctx)
	if err != nil {
		return keyUnavailable(err)
	}
	started := time.Now()
	res, err := do(ctx, key, payload)
	attempts := res.Attempts
	refreshed := false
	if err == nil && rejectsKey(res.Status) {
		newKey, rerr := h.keys.Refresh(ctx, key)
		if rerr != nil {
			o := fail(http.StatusBadGateway, api.TypeUpstreamError, "The verification service could not be reached.", errors.New("complycube rejected the API key ("+strconv.Itoa(res.Status)+") and no other key is available: "+rerr.Error()))
			o.upstreamStatus, o.attempts, o.keyRejected, o.upstreamTime = res.Status, attempts, true, time.Since(started)
			return o
		}
		refreshed = true
		res, err = do(ctx, newKey, payload)
		attempts += res.Attempts
	}
	o := mapUpstream(res, err, onSuccess)
	o.attempts, o.keyRefreshed, o.upstreamTime = attempts, refreshed, time.Since(started)
	o.keyRejected = err == nil && rejectsKey(res.Status)
	return o
}

func rejectsKey(status int) bool {
	return status == http.StatusUnauthorized || status == http.StatusForbidden
}

// saveStatusToken makes a status token for clientID and starts storing its
// hash; the channel gives the write's error once it is done (bounded).
func (h *SessionStarter) saveStatusToken(ctx context.Context, clientID string) (string, <-chan error) {
	done := make(chan error, 1)
	token, err := state.NewStatusToken()
	if err != nil {
		done <- fmt.Errorf("make a status token: %w", err)
		return "", done
	}
	go func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stateTimeout)
		defer cancel()
		if err := h.store.Put(sctx, state.StatusTokenKey(token), state.StatusTokenRecord{ClientID: clientID, IssuedAt: h.now()}.Encode(), h.now().Add(state.StatusTokenLife)); err != nil {
			done <- fmt.Errorf("store the status token: %w", err)
			return
		}
		done <- nil
	}()
	return token, done
}

// stateTimeout bounds one use of the shared state during a request.
const stateTimeout = time.Second

// sessionAnswer turns ComplyCube's session into the caller's 200: the
// redirect URL and the status token, nothing else.
func sessionAnswer(status int, body []byte, statusToken string) outcome {
	redirectURL, ok := stringMember(body, "redirectUrl")
	if !ok || redirectURL == "" {
		return upstreamFailure(status, "complycube answered "+strconv.Itoa(status)+" without one string redirectUrl in a JSON object")
	}
	if reason := anyRedirect.checkRedirectURL(redirectURL); reason != "" {
		return upstreamFailure(status, "complycube's redirectUrl "+reason)
	}
	data, err := jsontext.AppendQuote([]byte(`{"redirectUrl":`), redirectURL)
	if err != nil {
		return upstreamFailure(status, "complycube's redirectUrl cannot be quoted: "+err.Error())
	}
	if statusToken != "" {
		// base64url: nothing to escape.
		data = append(append(append(data, `,"statusToken":"`...), statusToken...), '"')
	}
	return outcome{resp: api.JSONResponse(http.StatusOK, append(data, '}')), upstreamStatus: status}
}

func upstreamFailure(status int, cause string) outcome {
	o := fail(http.StatusBadGateway, api.TypeUpstreamError, "The verification service could not be reached.", errors.New(cause))
	o.upstreamStatus = status
	return o
}

// mapUpstream turns ComplyCube's answer into the caller's, row by row as
// the contract's table says; a 200 or 201 goes to onSuccess.
func mapUpstream(res UpstreamResponse, err error, onSuccess func(status int, body []byte) outcome) outcome {
	if err != nil {
		if errors.Is(err, ErrUpstreamTimeout) {
			o := fail(http.StatusGatewayTimeout, api.TypeUpstreamTimeout, "The verification service did not answer in time.", err)
			o.upstreamStatus = res.Status
			return o
		}
		o := fail(http.StatusBadGateway, api.TypeUpstreamError, "The verification service could not be reached.", err)
		o.upstreamStatus = res.Status
		return o
	}
	switch s := res.Status; {
	case s == http.StatusOK || s == http.StatusCreated:
		return onSuccess(s, res.Body)
	case s == http.StatusBadRequest || s == http.StatusNotFound || s == http.StatusUnprocessableEntity:
		// RFC 8259 JSON is UTF-8; encoding/json's Valid lets invalid UTF-8
		// inside strings through, and API Gateway could not carry it as text.
		if !utf8.Valid(res.Body) || !json.Valid(res.Body) {
			return upstreamFailure(s, "complycube answered "+strconv.Itoa(s)+" with a body that is not JSON")
		}
		return outcome{resp: api.JSONResponse(s, res.Body), upstreamStatus: s, errType: "complycube_" + strconv.Itoa(s)}
	case s == http.StatusTooManyRequests:
		o := fail(http.StatusTooManyRequests, api.TypeRateLimitExceeded, "Too many requests. Try again later.", errors.New("complycube rate limit"))
		if ra := sanitizeRetryAfter(res.RetryAfter); ra != "" {
			o.resp.Header.Set("Retry-After", ra)
		}
		o.upstreamStatus = s
		return o
	default:
		return upstreamFailure(s, "complycube answered "+strconv.Itoa(s))
	}
}

// anyRedirect checks the form of ComplyCube's own redirectUrl: an absolute
// https URL (http to loopback), on any origin.
var anyRedirect = Validator{RedirectOrigins: cors.List{AnyOrigin: true}}

// stringMember returns the string member name of a JSON object. ok is
// false for anything else: not an object, trailing data, a duplicate
// name, a member that is not a string or is missing.
func stringMember(body []byte, name string) (value string, ok bool) {
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	found := false
	err := readMembers(dec, func(n string) error {
		if n != name {
			_, err := dec.ReadValue()
			return err
		}
		if dec.PeekKind() != '"' {
			return errNotObject
		}
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		value, found = tok.String(), true
		return nil
	})
	return value, err == nil && found
}

// sanitizeRetryAfter passes on a Retry-After header only in one of its two
// legal forms: delay-seconds or an HTTP date.
func sanitizeRetryAfter(v string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return ""
	}
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return strconv.FormatUint(n, 10)
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.UTC().Format(http.TimeFormat)
	}
	return ""
}

func fail(status int, typ, message string, cause error) outcome {
	return outcome{resp: api.ErrorResponse(status, api.Error{Type: typ, Message: message}), errType: typ, cause: cause}
}

func (h *SessionStarter) logRequest(req api.Request, out outcome, first bool, start time.Time) {
	rec := api.Record{Message: "request", Request: req, Status: out.resp.Status, Took: h.now().Sub(start), ColdStart: first, ErrType: out.errType, Cause: out.cause}
	attrs := make([]slog.Attr, 0, 10)
	if o := req.Header.Get("Origin"); o != "" {
		attrs = append(attrs, slog.String("origin", cors.LogOrigin(o)))
	}
	if out.upstreamStatus != 0 || out.attempts != 0 {
		attrs = append(attrs, slog.Int("complycubeStatus", out.upstreamStatus), slog.Int("complycubeAttempts", out.attempts))
	}
	if out.keyRefreshed {
		attrs = append(attrs, slog.Bool("keyRefreshed", true))
	}
	if out.clientStatus != 0 {
		attrs = append(attrs, slog.Int("complycubeClientStatus", out.clientStatus))
	}
	if out.newClientID != "" {
		// The ID of the client signup created: the operator's link between
		// this request and ComplyCube's records. Never the name or e-mail.
		attrs = append(attrs, slog.String("createdClientId", out.newClientID))
	}
	if out.invitationFor != "" {
		attrs = append(attrs, slog.String("invitationClientId", out.invitationFor))
	}
	if out.stateError != nil {
		attrs = append(attrs, slog.String("stateError", out.stateError.Error()))
	}
	if out.refusedFor != "" {
		attrs = append(attrs, slog.String("refusedFor", out.refusedFor))
	}
	rec.Attrs = attrs
	rec.Metrics = metrics(out, first)
	h.log.Write(&rec)
}
