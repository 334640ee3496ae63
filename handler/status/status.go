// Package status is the third function's core: it tells the person's
// browser where its verification stands. It takes the status token that
// the create-session function answered with, and reads only the shared
// state (the token's client, and that client's latest status as the
// webhook recorded it): no ComplyCube call, no secret. It shares only
// handler/api, handler/cors and handler/state with the other cores.
package status

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/complycube-session/createsession/handler/api"
	"github.com/complycube-session/createsession/handler/cors"
	"github.com/complycube-session/createsession/handler/state"
)

// MaxBodyBytes is the body limit, the same as /sessions'.
const MaxBodyBytes = 16 << 10

// issuedAtSkew is how much earlier than the token an event may be dated
// and still count: ComplyCube's clock and ours differ a little.
const issuedAtSkew = 30 * time.Second

// stateTimeout bounds the two reads together: the answer is worth little
// after a second.
const stateTimeout = 2 * time.Second

// TypeStatusNotFound is the answer to a token that is unknown, expired or
// malformed: the same for each, so that a caller learns nothing by trying.
const TypeStatusNotFound = "status_not_found"

// Config is what the rules need to know.
type Config struct {
	AllowedOrigins cors.List
}

// Reader answers status requests.
type Reader struct {
	cfg    Config
	store  state.Store
	log    api.RequestLog
	now    func() time.Time
	served atomic.Bool
}

// New returns a Reader; log receives one record per request.
func New(cfg Config, store state.Store, log api.RequestLog) *Reader {
	return &Reader{cfg: cfg, store: store, log: log, now: time.Now}
}

type outcome struct {
	resp      api.Response
	errType   string
	cause     error
	stateFail bool
	known     bool   // the token was found
	status    string // answered
}

// Serve answers one request. It never panics.
func (r *Reader) Serve(ctx context.Context, req api.Request) (resp api.Response) {
	start := r.now()
	first := !r.served.Swap(true)
	origin, allowed, fromBrowser := cors.Check(r.cfg.AllowedOrigins, req)
	var o outcome
	defer func() {
		if p := recover(); p != nil {
			o = fail(http.StatusInternalServerError, api.TypeInternalError, "The request could not be handled.", errors.New("panic"))
			cors.AddHeaders(o.resp, origin, allowed)
		}
		resp = o.resp
		r.logRequest(req, o, first, start)
	}()
	o = r.serve(ctx, req, allowed, fromBrowser)
	cors.AddHeaders(o.resp, origin, allowed)
	return o.resp
}

func (r *Reader) serve(ctx context.Context, req api.Request, originAllowed, fromBrowser bool) outcome {
	if resp, errType, stop := cors.Gate(originAllowed, fromBrowser, req, MaxBodyBytes); stop {
		return outcome{resp: resp, errType: errType}
	}
	token, o, ok := readToken(req.Body)
	if !ok {
		return o
	}
	if !wellFormed(token) {
		return notFound(errors.New("the token is malformed"))
	}
	ctx, cancel := context.WithTimeout(ctx, stateTimeout)
	defer cancel()
	raw, err := r.store.Get(ctx, state.StatusTokenKey(token))
	if errors.Is(err, state.ErrNotFound) {
		return notFound(errors.New("the token is unknown or expired"))
	}
	if err != nil {
		return unavailable(err)
	}
	rec, err := state.DecodeStatusTokenRecord(raw)
	if err != nil {
		return unavailable(fmt.Errorf("the token's record cannot be read: %w", err))
	}
	st := state.ClientStatus{Status: state.StatusPending}
	raw, err = r.store.Get(ctx, state.ClientStatusKey(rec.ClientID))
	switch {
	case errors.Is(err, state.ErrNotFound):
	case err != nil:
		return unavailable(err)
	default:
		got, err := state.DecodeClientStatus(raw)
		if err != nil {
			return unavailable(errors.New("the client's status cannot be read: " + err.Error()))
		}
		// Only what happened since the token was issued: an earlier
		// session's outcome is not this one's.
		if !got.UpdatedAt.Before(rec.IssuedAt.Add(-issuedAtSkew)) {
			st = got
		}
	}
	return outcome{resp: api.JSONResponse(http.StatusOK, answer(st)), known: true, status: st.Status}
}

// answer is the body: the three fields and nothing else (no client ID,
// no names).
func answer(st state.ClientStatus) []byte {
	var body struct {
		Status    string  `json:"status"`
		Outcome   *string `json:"outcome"`
		UpdatedAt *string `json:"updatedAt"`
	}
	body.Status = st.Status
	if st.Outcome != "" {
		body.Outcome = &st.Outcome
	}
	if !st.UpdatedAt.IsZero() && st.Status != state.StatusPending {
		t := st.UpdatedAt.UTC().Format(time.RFC3339)
		body.UpdatedAt = &t
	}
	b, _ := json.Marshal(body)
	return b
}

// readToken reads {"statusToken": ...}: one JSON object without duplicate
// names and with no other member. A statusToken that is not a string is
// answered as a malformed token.
func readToken(body []byte) (string, outcome, bool) {
	if !jsontext.Value(body).IsValid() || jsontext.Value(body).Kind() != '{' {
		return "", fail(http.StatusBadRequest, api.TypeInvalidRequest, "The body must be one JSON object.", nil), false
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return "", fail(http.StatusBadRequest, api.TypeInvalidRequest, "The body must be one JSON object.", nil), false
	}
	for name := range fields {
		if name != "statusToken" {
			name = truncate(name, 64)
			return "", invalidParam(name, "'"+name+"' is not a field of this request"), false
		}
	}
	raw, ok := fields["statusToken"]
	if !ok || bytes.Equal(raw, []byte("null")) {
		return "", invalidParam("statusToken", "'statusToken' is required"), false
	}
	var token string
	if json.Unmarshal(raw, &token) != nil {
		return "", notFound(errors.New("the token is not a string")), false
	}
	return token, outcome{}, true
}

// wellFormed: a token is 22 to 64 characters of base64url, as
// state.NewStatusToken makes them; anything else is not looked up.
func wellFormed(token string) bool {
	if len(token) < 22 || len(token) > 64 {
		return false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func invalidParam(param, msg string) outcome {
	return outcome{resp: api.ErrorResponse(http.StatusBadRequest, api.Error{Type: api.TypeInvalidRequest, Message: msg, Param: param}), errType: api.TypeInvalidRequest}
}

func notFound(cause error) outcome {
	return fail(http.StatusNotFound, TypeStatusNotFound, "No verification is known for this token.", cause)
}

func unavailable(cause error) outcome {
	o := fail(http.StatusServiceUnavailable, api.TypeServiceUnavailable, "The service is not available right now. Try again shortly.", cause)
	o.resp.Header.Set("Retry-After", "2")
	o.stateFail = true
	return o
}

func fail(status int, typ, message string, cause error) outcome {
	return outcome{resp: api.ErrorResponse(status, api.Error{Type: typ, Message: message}), errType: typ, cause: cause}
}

// What the status function counts; the log adapter adds the function's
// name to every split.
const (
	DimensionStatus   = "StatusCode"
	MetricRequests    = "Requests"
	MetricErrors5xx   = "Errors5xx"
	MetricColdStarts  = "ColdStarts"
	MetricStateErrors = "StateErrors" // 1 when the shared state could not be read (a 503)
)

var schema = api.NewMetricSchema(api.MetricSet{
	DimensionSets: [][]string{{}, {DimensionStatus}},
	Metrics: []api.MetricDef{
		{Name: MetricRequests, Unit: "Count"}, {Name: MetricErrors5xx, Unit: "Count"},
		{Name: MetricColdStarts, Unit: "Count"}, {Name: MetricStateErrors, Unit: "Count"},
	},
})

func (r *Reader) logRequest(req api.Request, o outcome, first bool, start time.Time) {
	rec := api.Record{Message: "status", Request: req, Status: o.resp.Status, Took: r.now().Sub(start), ColdStart: first, ErrType: o.errType, Cause: o.cause}
	if o.status != "" {
		rec.Attrs = append(rec.Attrs, slog.String("verificationStatus", o.status))
	}
	if origin := req.Header.Get("Origin"); origin != "" {
		rec.Attrs = append(rec.Attrs, slog.String("origin", cors.LogOrigin(origin)))
	}
	rec.Metrics = &api.Metrics{Schema: schema, Dimensions: []string{strconv.Itoa(o.resp.Status)}, Values: []float64{
		1, api.Count(o.resp.Status >= 500), api.Count(first), api.Count(o.stateFail),
	}}
	r.log.Write(&rec)
}
