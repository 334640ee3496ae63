package status_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/complycube-session/createsession/handler/state"
	"github.com/complycube-session/createsession/internal/lambda/apigateway"
	"github.com/complycube-session/createsession/internal/lambda/memstate"
	"github.com/complycube-session/createsession/internal/lambda/statusfn"
	"github.com/complycube-session/createsession/internal/testonly/emfcheck"
)

const (
	allowed = "https://www.example.com"
	client  = "5eb04fcd0f3e360008035eb1"
)

type fixture struct {
	t     *testing.T
	fn    apigateway.Lambda
	store state.Store
	logs  *bytes.Buffer
}

func newFixture(t *testing.T, store state.Store) *fixture {
	t.Helper()
	env := map[string]string{"ALLOWED_ORIGINS": allowed, "AWS_LAMBDA_FUNCTION_NAME": "stack-status"}
	cfg, err := statusfn.LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, store: store, logs: &bytes.Buffer{}}
	f.fn = statusfn.Build(cfg, store, slog.New(slog.NewJSONHandler(f.logs, nil)), nil)
	return f
}

type answer struct {
	Status  int
	Headers map[string]string
	Body    string
}

func (f *fixture) ask(method, origin, contentType, body string) answer {
	f.t.Helper()
	h := map[string]string{}
	if origin != "" {
		h["origin"] = origin
	}
	if contentType != "" {
		h["content-type"] = contentType
	}
	ev, _ := json.Marshal(events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: "/sessions/status", Headers: h, Body: body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, SourceIP: "203.0.113.9"}}})
	out, err := f.fn.Invoke(context.Background(), ev)
	if err != nil {
		f.t.Fatalf("Lambda error: %v", err)
	}
	var r events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &r); err != nil {
		f.t.Fatalf("not an HTTP API response: %s", out)
	}
	return answer{r.StatusCode, r.Headers, r.Body}
}

func (f *fixture) post(body string) answer {
	return f.ask("POST", allowed, "application/json", body)
}

func tokenBody(token string) string {
	b, _ := json.Marshal(map[string]string{"statusToken": token})
	return string(b)
}

// newToken stores a token for client, as the create-session function does.
func newToken(t *testing.T, store state.Store, expires time.Time) string {
	t.Helper()
	tok, err := state.NewStatusToken()
	if err != nil {
		t.Fatal(err)
	}
	rec := state.StatusTokenRecord{ClientID: client, IssuedAt: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	if err := store.Put(context.Background(), state.StatusTokenKey(tok), rec.Encode(), expires); err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestWhereItStands: pending before any event, then what the webhook
// recorded; the answer has the three fields and nothing else.
func TestWhereItStands(t *testing.T) {
	store := memstate.New()
	f := newFixture(t, store)
	tok := newToken(t, store, time.Now().Add(time.Hour))
	a := f.post(tokenBody(tok))
	if a.Status != 200 || a.Body != `{"status":"pending","outcome":null,"updatedAt":null}` {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
	if a.Headers["Access-Control-Allow-Origin"] != allowed || a.Headers["Cache-Control"] != "no-store" || a.Headers["Content-Type"] != "application/json" {
		t.Errorf("headers %v", a.Headers)
	}
	at := time.Date(2026, 12, 1, 10, 5, 0, 0, time.UTC)
	store.Put(context.Background(), state.ClientStatusKey(client), state.ClientStatus{Status: "completed", Outcome: "clear", UpdatedAt: at}.Encode(), time.Now().Add(time.Hour))
	a = f.post(tokenBody(tok))
	if a.Status != 200 || a.Body != `{"status":"completed","outcome":"clear","updatedAt":"2026-12-01T10:05:00Z"}` {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
	if strings.Contains(a.Body, client) {
		t.Error("the answer names the client")
	}
	store.Put(context.Background(), state.ClientStatusKey(client), state.ClientStatus{Status: "started", UpdatedAt: at}.Encode(), time.Now().Add(time.Hour))
	if a = f.post(tokenBody(tok)); a.Body != `{"status":"started","outcome":null,"updatedAt":"2026-12-01T10:05:00Z"}` {
		t.Errorf("started: %s", a.Body)
	}
	// An outcome from before the token was issued (an earlier session of
	// the same client) is not this session's: pending.
	store.Put(context.Background(), state.ClientStatusKey(client), state.ClientStatus{Status: "completed", Outcome: "rejected", UpdatedAt: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}.Encode(), time.Now().Add(time.Hour))
	if a = f.post(tokenBody(tok)); a.Body != `{"status":"pending","outcome":null,"updatedAt":null}` {
		t.Errorf("an earlier session's outcome: %s", a.Body)
	}
}

// TestOneAnswerForEveryBadToken: unknown, expired, malformed, 5,000
// characters long or not a string: the same 404, without a lookup for a
// token that cannot be one.
func TestOneAnswerForEveryBadToken(t *testing.T) {
	now := time.Now()
	store := &countingStore{Store: memstate.New(memstate.WithClock(func() time.Time { return now }))}
	f := newFixture(t, store)
	expired := newToken(t, store, now.Add(time.Hour))
	// Expiry is read from the clock, not from the store's cleaning.
	now = now.Add(2 * time.Hour)
	unknown, _ := state.NewStatusToken()
	bodies := map[string]string{
		"unknown":          tokenBody(unknown),
		"expired":          tokenBody(expired),
		"malformed":        tokenBody("not a token!"),
		"too short":        tokenBody("abc"),
		"5,000 characters": tokenBody(strings.Repeat("A", 5000)),
		"a number":         `{"statusToken":12345}`,
		"an object":        `{"statusToken":{"a":1}}`,
		"empty":            tokenBody(""),
	}
	var first string
	for name, body := range bodies {
		a := f.post(body)
		if a.Status != 404 {
			t.Errorf("%s: %d %s", name, a.Status, a.Body)
		}
		if first == "" {
			first = a.Body
		} else if a.Body != first {
			t.Errorf("%s: %s; another bad token got %s", name, a.Body, first)
		}
	}
	if first != `{"type":"status_not_found","message":"No verification is known for this token."}` {
		t.Errorf("404 body %s", first)
	}
	if store.gets > 2 {
		t.Errorf("%d reads of the state; only the unknown and expired tokens are well-formed", store.gets)
	}
}

// TestRequestRules: the same CORS, media type and size rules as /sessions.
func TestRequestRules(t *testing.T) {
	f := newFixture(t, memstate.New())
	cases := []struct {
		name                     string
		method, origin, ct, body string
		status                   int
		errType                  string
	}{
		{"preflight", "OPTIONS", allowed, "", "", 204, ""},
		{"a refused origin", "POST", "https://evil.example", "application/json", `{"statusToken":"x"}`, 403, "origin_not_allowed"},
		{"GET", "GET", allowed, "", "", 405, "method_not_allowed"},
		{"text/plain", "POST", allowed, "text/plain", `{"statusToken":"x"}`, 415, "unsupported_media_type"},
		{"over 16 KiB", "POST", allowed, "application/json", `{"statusToken":"` + strings.Repeat("a", 16<<10) + `"}`, 413, "request_too_large"},
		{"not an object", "POST", allowed, "application/json", `[1]`, 400, "invalid_request"},
		{"duplicate names", "POST", allowed, "application/json", `{"statusToken":"a","statusToken":"b"}`, 400, "invalid_request"},
		{"no token", "POST", allowed, "application/json", `{}`, 400, "invalid_request"},
		{"another field", "POST", allowed, "application/json", `{"statusToken":"a","clientId":"x"}`, 400, "invalid_request"},
	}
	for _, c := range cases {
		a := f.ask(c.method, c.origin, c.ct, c.body)
		if a.Status != c.status || (c.errType != "" && !strings.Contains(a.Body, `"type":"`+c.errType+`"`)) {
			t.Errorf("%s: %d %s", c.name, a.Status, a.Body)
		}
		if a.Headers["Cache-Control"] != "no-store" || a.Headers["Vary"] != "Origin" {
			t.Errorf("%s: headers %v", c.name, a.Headers)
		}
	}
	if a := f.ask("OPTIONS", allowed, "", ""); a.Headers["Access-Control-Allow-Methods"] != "POST, OPTIONS" || a.Headers["Access-Control-Allow-Origin"] != allowed {
		t.Errorf("preflight headers %v", a.Headers)
	}
}

// TestStateDown: a table that cannot be read is a 503 with Retry-After,
// counted, never a 404 that would tell the page the token is unknown.
func TestStateDown(t *testing.T) {
	f := newFixture(t, failingStore{})
	tok, _ := state.NewStatusToken()
	a := f.post(tokenBody(tok))
	if a.Status != 503 || a.Headers["Retry-After"] == "" || a.Headers["Access-Control-Expose-Headers"] != "Retry-After" {
		t.Fatalf("%d %v %s", a.Status, a.Headers, a.Body)
	}
	var line string
	for _, l := range strings.Split(f.logs.String(), "\n") {
		if strings.Contains(l, `"msg":"status"`) {
			line = l
		}
	}
	got, errs := emfcheck.Validate([]byte(line))
	for _, err := range errs {
		t.Errorf("EMF: %v", err)
	}
	if got["StateErrors"] != 1 || got["Errors5xx"] != 1 || !strings.Contains(line, `"Function":"stack-status"`) {
		t.Errorf("metrics %v in %s", got, line)
	}
	if strings.Contains(line, tok) {
		t.Error("the log line holds the token")
	}
	if !strings.Contains(line, `"sourceIpHash":"`) || strings.Contains(line, "203.0.113.9") {
		t.Errorf("the line must carry a keyed hash of the source address, never the address: %s", line)
	}
}

type countingStore struct {
	state.Store
	gets int
}

func (c *countingStore) Get(ctx context.Context, key string) ([]byte, error) {
	c.gets++
	return c.Store.Get(ctx, key)
}

type failingStore struct{ state.Store }

func (failingStore) Get(context.Context, string) ([]byte, error) {
	return nil, errors.New("connection refused")
}
