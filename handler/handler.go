// Package handler is the create-session function's core: the rules of the
// contract (CORS, validation, calling ComplyCube through a port, mapping its
// answers, the log line) in Handler. It knows nothing of API Gateway's event
// shapes, of HTTP clients or of AWS: the adapters in internal/lambda feed it
// Requests and implement the ports it declares in types.go.
package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// DeadlineMargin is how long before the invocation's deadline the handler
// stops waiting and answers, so that its own JSON reaches the caller before
// the Lambda runtime kills the invocation.
const DeadlineMargin = 300 * time.Millisecond

// retryAfterUnavailable is sent with 503 when the key cannot be read; the
// key is read again at most once a second.
const retryAfterUnavailable = "2"

// CORS values sent on a preflight.
const (
	corsAllowMethods = "POST, OPTIONS"
	corsAllowHeaders = "Content-Type"
	corsMaxAge       = "7200"
)

// Handler answers create-session requests.
type Handler struct {
	cfg       Config
	validator Validator
	keys      KeySource
	upstream  SessionCreator
	log       *slog.Logger
	now       func() time.Time
	served    atomic.Bool
}

// New returns a Handler. log receives one line per request.
func New(cfg Config, keys KeySource, upstream SessionCreator, log *slog.Logger) *Handler {
	return &Handler{
		cfg:       cfg,
		validator: Validator{TemplateIDs: cfg.TemplateIDs, RedirectOrigins: cfg.RedirectOrigins},
		keys:      keys,
		upstream:  upstream,
		log:       log,
		now:       time.Now,
	}
}

// outcome is what one request did, for its log line.
type outcome struct {
	resp           Response
	errType        string
	cause          error
	upstreamStatus int
	attempts       int
	keyRefreshed   bool
}

// Serve answers one request. It never panics: an unexpected panic becomes a
// 500 internal_error and a log line.
func (h *Handler) Serve(ctx context.Context, req Request) (resp Response) {
	start := h.now()
	first := !h.served.Swap(true)
	origin, allowed := h.allowedOrigin(req)
	var out outcome
	defer func() {
		if p := recover(); p != nil {
			out = outcome{errType: TypeInternalError, cause: errors.New("panic: " + panicString(p))}
			out.resp = errorResponse(http.StatusInternalServerError, Error{Type: TypeInternalError, Message: "The request could not be handled."})
			addCORS(out.resp, origin, allowed)
		}
		resp = out.resp
		h.logRequest(req, out, first, start)
	}()
	out = h.serve(ctx, req, allowed)
	addCORS(out.resp, origin, allowed)
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

// addCORS adds Access-Control-Allow-Origin to answers for allowed origins,
// errors included, so that the browser lets the page read them.
func addCORS(resp Response, origin string, allowed bool) {
	resp.Header.Set("Vary", "Origin")
	if allowed {
		resp.Header.Set("Access-Control-Allow-Origin", origin)
	}
}

// allowedOrigin returns the Origin header to echo when it is allowed.
func (h *Handler) allowedOrigin(req Request) (string, bool) {
	raw := req.Header.Get("Origin")
	if raw == "" {
		return "", false
	}
	if h.cfg.AllowedOrigins.AnyOrigin {
		// Echo only what is safe in a header; "null" and odd values included
		// as they are, since * is for development.
		if isPrintableASCII(raw) {
			return raw, true
		}
		return "", false
	}
	o, err := ParseOrigin(raw)
	if err != nil || !h.cfg.AllowedOrigins.Allows(o) {
		return "", false
	}
	return raw, true
}

// serve answers a request; originAllowed says whether its Origin header,
// if any, is on the allowlist.
func (h *Handler) serve(ctx context.Context, req Request, originAllowed bool) outcome {
	hasOrigin := len(req.Header.Values("Origin")) > 0
	if hasOrigin && !originAllowed {
		return fail(http.StatusForbidden, TypeOriginNotAllowed, "This origin may not call this endpoint.", nil)
	}
	switch req.Method {
	case http.MethodOptions:
		r := Response{Status: http.StatusNoContent, Header: baseHeader()}
		if hasOrigin {
			r.Header.Set("Access-Control-Allow-Methods", corsAllowMethods)
			r.Header.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			r.Header.Set("Access-Control-Max-Age", corsMaxAge)
		}
		r.Header.Set("Allow", "OPTIONS, POST")
		return outcome{resp: r}
	case http.MethodPost:
	default:
		o := fail(http.StatusMethodNotAllowed, TypeMethodNotAllowed, "Only POST is allowed.", nil)
		o.resp.Header.Set("Allow", "OPTIONS, POST")
		return o
	}
	mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return fail(http.StatusUnsupportedMediaType, TypeUnsupportedMediaType, "Content-Type must be application/json.", nil)
	}
	if len(req.Body) > MaxBodyBytes {
		return fail(http.StatusRequestEntityTooLarge, TypeRequestTooLarge, "The body is larger than 16 KiB.", nil)
	}
	if req.BadEncoding {
		return fail(http.StatusBadRequest, TypeInvalidRequest, "The body is marked base64 but is not valid base64.", nil)
	}
	sr, ferr := h.validator.Validate(req.Body)
	if ferr != nil {
		// param is omitted from the JSON when no one field is at fault.
		return outcome{resp: errorResponse(http.StatusBadRequest, Error{Type: TypeInvalidRequest, Message: ferr.message, Param: ferr.param}), errType: TypeInvalidRequest}
	}
	payload, err := json.Marshal(sr)
	if err != nil {
		return fail(http.StatusInternalServerError, TypeInternalError, "The request could not be handled.", err)
	}
	return h.createSession(ctx, payload)
}

func (h *Handler) createSession(ctx context.Context, payload []byte) outcome {
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-DeadlineMargin))
		defer cancel()
	}
	key, err := h.keys.Key(ctx)
	if err != nil {
		o := fail(http.StatusServiceUnavailable, TypeServiceUnavailable, "The service is not available right now. Try again shortly.", err)
		o.resp.Header.Set("Retry-After", retryAfterUnavailable)
		return o
	}
	res, err := h.upstream.CreateFlowSession(ctx, key, payload)
	attempts := res.Attempts
	refreshed := false
	if err == nil && (res.Status == http.StatusUnauthorized || res.Status == http.StatusForbidden) {
		newKey, rerr := h.keys.Refresh(ctx, key)
		if rerr != nil {
			o := fail(http.StatusBadGateway, TypeUpstreamError, "The verification service could not be reached.", errors.New("complycube rejected the API key ("+strconv.Itoa(res.Status)+") and no other key is available: "+rerr.Error()))
			o.upstreamStatus, o.attempts = res.Status, attempts
			return o
		}
		refreshed = true
		res, err = h.upstream.CreateFlowSession(ctx, newKey, payload)
		attempts += res.Attempts
	}
	o := mapUpstream(res, err)
	o.attempts, o.keyRefreshed = attempts, refreshed
	return o
}

// mapUpstream turns ComplyCube's answer into the caller's, row by row as the
// contract's table says.
func mapUpstream(res UpstreamResponse, err error) outcome {
	if err != nil {
		if errors.Is(err, ErrUpstreamTimeout) {
			o := fail(http.StatusGatewayTimeout, TypeUpstreamTimeout, "The verification service did not answer in time.", err)
			o.upstreamStatus = res.Status
			return o
		}
		o := fail(http.StatusBadGateway, TypeUpstreamError, "The verification service could not be reached.", err)
		o.upstreamStatus = res.Status
		return o
	}
	upstreamFail := func(cause string) outcome {
		o := fail(http.StatusBadGateway, TypeUpstreamError, "The verification service could not be reached.", errors.New(cause))
		o.upstreamStatus = res.Status
		return o
	}
	switch s := res.Status; {
	case s == http.StatusOK || s == http.StatusCreated:
		redirectURL, ok := redirectURLOf(res.Body)
		if !ok || redirectURL == "" {
			return upstreamFail("complycube answered " + strconv.Itoa(s) + " without one string redirectUrl in a JSON object")
		}
		if reason := anyRedirect.checkRedirectURL(redirectURL); reason != "" {
			return upstreamFail("complycube's redirectUrl " + reason)
		}
		data, err := jsontext.AppendQuote([]byte(`{"redirectUrl":`), redirectURL)
		if err != nil {
			return upstreamFail("complycube's redirectUrl cannot be quoted: " + err.Error())
		}
		return outcome{resp: jsonResponse(http.StatusOK, append(data, '}')), upstreamStatus: s}
	case s == http.StatusBadRequest || s == http.StatusNotFound || s == http.StatusUnprocessableEntity:
		// RFC 8259 JSON is UTF-8; encoding/json's Valid lets invalid UTF-8
		// inside strings through, and API Gateway could not carry it as text.
		if !utf8.Valid(res.Body) || !json.Valid(res.Body) {
			return upstreamFail("complycube answered " + strconv.Itoa(s) + " with a body that is not JSON")
		}
		return outcome{resp: jsonResponse(s, res.Body), upstreamStatus: s, errType: "complycube_" + strconv.Itoa(s)}
	case s == http.StatusTooManyRequests:
		o := fail(http.StatusTooManyRequests, TypeRateLimitExceeded, "Too many requests. Try again later.", errors.New("complycube rate limit"))
		if ra := sanitizeRetryAfter(res.RetryAfter); ra != "" {
			o.resp.Header.Set("Retry-After", ra)
		}
		o.upstreamStatus = s
		return o
	default:
		return upstreamFail("complycube answered " + strconv.Itoa(s))
	}
}

// anyRedirect checks the form of ComplyCube's own redirectUrl: an absolute
// https URL (http to loopback), on any origin.
var anyRedirect = Validator{RedirectOrigins: OriginList{AnyOrigin: true}}

// redirectURLOf returns the redirectUrl string of a JSON object. ok is false
// for anything else: not an object, trailing data, a duplicate name, a
// redirectUrl that is not a string or is missing.
func redirectURLOf(body []byte) (url string, ok bool) {
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	found := false
	err := readMembers(dec, func(name string) error {
		if name != "redirectUrl" {
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
		url, found = tok.String(), true
		return nil
	})
	return url, err == nil && found
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

func baseHeader() http.Header {
	return http.Header{"Cache-Control": {"no-store"}}
}

func jsonResponse(status int, body []byte) Response {
	h := baseHeader()
	h.Set("Content-Type", "application/json")
	return Response{Status: status, Header: h, Body: body}
}

func errorResponse(status int, e Error) Response {
	data, _ := json.Marshal(e)
	return jsonResponse(status, data)
}

func fail(status int, typ, message string, cause error) outcome {
	return outcome{resp: errorResponse(status, Error{Type: typ, Message: message}), errType: typ, cause: cause}
}

func (h *Handler) logRequest(req Request, out outcome, first bool, start time.Time) {
	attrs := []slog.Attr{
		slog.String("requestId", req.RequestID),
		slog.String("method", req.Method),
		slog.String("path", req.Path),
		slog.Int("status", out.resp.Status),
		slog.Float64("durationMs", float64(h.now().Sub(start).Microseconds())/1000),
		slog.Bool("coldStart", first),
	}
	if o := req.Header.Get("Origin"); o != "" {
		attrs = append(attrs, slog.String("origin", o))
	}
	if out.upstreamStatus != 0 || out.attempts != 0 {
		attrs = append(attrs, slog.Int("complycubeStatus", out.upstreamStatus), slog.Int("complycubeAttempts", out.attempts))
	}
	if out.keyRefreshed {
		attrs = append(attrs, slog.Bool("keyRefreshed", true))
	}
	level := slog.LevelInfo
	if out.errType != "" {
		attrs = append(attrs, slog.String("error", out.errType))
	}
	if out.cause != nil {
		attrs = append(attrs, slog.String("cause", out.cause.Error()))
		if out.resp.Status >= 500 {
			level = slog.LevelError
		} else {
			level = slog.LevelWarn
		}
	}
	h.log.LogAttrs(context.Background(), level, "request", attrs...)
}
