package handler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/complycube-session/createsession/handler/api"
	"github.com/complycube-session/createsession/handler/state"
	"github.com/complycube-session/createsession/internal/lambda/apigateway"
	"github.com/complycube-session/createsession/internal/lambda/memstate"
	"github.com/complycube-session/createsession/internal/lambda/sessionfn"
	"github.com/complycube-session/createsession/internal/lambda/startup"
	"github.com/complycube-session/createsession/internal/testonly/fakesecretsmanager"
	"github.com/complycube-session/createsession/internal/testonly/lambdaemu"
	"github.com/complycube-session/createsession/internal/testonly/syncbuf"
)

// Keys the suite uses. TestMain fails the run if either shows up in any log
// line or answer the suite produced.
const (
	apiKey     = "test_Zm9yLXRlc3RzLW9ubHktbm90LWEtcmVhbC1rZXk"
	rotatedKey = "test_cm90YXRlZC1rZXktZm9yLXRlc3RzLW9ubHk"
	secretID   = "prod/complycube/api-key"
	allowed    = "https://app.example.com"
)

// everything collects every log line and answer of the suite.
var everything = &syncbuf.Buffer{}

// fixturesBuilt counts fixtures, so that TestMain can tell a collector that
// saw nothing from a run that built nothing.
var fixturesBuilt int

func TestMain(m *testing.M) {
	code := m.Run()
	all := everything.String()
	for _, k := range []string{apiKey, rotatedKey, secretID} {
		// The secret's name may be logged but never answered; the key never
		// appears anywhere. Answers are tagged "ANSWER " in the buffer.
		if k == secretID {
			for _, line := range strings.Split(all, "\n") {
				if strings.HasPrefix(line, "ANSWER ") && strings.Contains(line, k) {
					fmt.Fprintf(os.Stderr, "LEAK: an answer names the secret: %s\n", line)
					code = 1
				}
			}
			continue
		}
		if strings.Contains(all, k) {
			fmt.Fprintf(os.Stderr, "LEAK: the API key appears in the suite's logs or answers\n")
			code = 1
		}
	}
	for _, k := range []string{invitationKey, rotatedInvitationKey} {
		if strings.Contains(all, k) {
			fmt.Fprintf(os.Stderr, "LEAK: an invitation key appears in the suite's logs or answers\n")
			code = 1
		}
	}
	// A person's e-mail and name go to ComplyCube and nowhere else: no log
	// line of the suite may hold them.
	for _, line := range strings.Split(all, "\n") {
		if strings.HasPrefix(line, "ANSWER ") {
			continue
		}
		for _, pii := range []string{personEmail, personFirst, personLast, companyName} {
			if strings.Contains(line, pii) {
				fmt.Fprintf(os.Stderr, "LEAK: a log line holds a person's data (%q): %s\n", pii, line)
				code = 1
			}
		}
	}
	if code == 0 && fixturesBuilt > 0 && len(all) < 100*fixturesBuilt {
		fmt.Fprintf(os.Stderr, "the leak check saw only %d bytes: the collector is not wired\n", len(all))
		code = 1
	}
	os.Exit(code)
}

// upstreamCall is one request the fake ComplyCube received.
type upstreamCall struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

// fakeComplyCube answers with the next scripted reply, or with the last one
// when the script runs out.
type fakeComplyCube struct {
	srv     *httptest.Server
	mu      sync.Mutex
	calls   []upstreamCall
	replies []http.HandlerFunc
}

func newFakeComplyCube(t *testing.T, replies ...http.HandlerFunc) *fakeComplyCube {
	f := &fakeComplyCube{replies: replies}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() { f.srv.CloseClientConnections(); f.srv.Close() })
	return f
}

func (f *fakeComplyCube) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.calls = append(f.calls, upstreamCall{r.Method, r.URL.Path, r.Header.Clone(), body})
	n := len(f.calls)
	reply := f.replies[min(n, len(f.replies))-1]
	f.mu.Unlock()
	reply(w, r)
}

func (f *fakeComplyCube) Calls() []upstreamCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]upstreamCall(nil), f.calls...)
}

// reply writes status, body and headers (name, value pairs).
func reply(status int, body string, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func redirectOK(url string) http.HandlerFunc {
	return reply(200, `{"redirectUrl":"`+url+`"}`)
}

const sessionURL = "https://id.complycube.com/test_NjQ2ZDM3Y2Y?theme=light"

// hang waits until the client goes away.
func hang(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

// fixture is one function instance built through the real wiring
// (app.Build, the AWS SDK's default config chain) against local fakes.
type fixture struct {
	t      *testing.T
	cc     *fakeComplyCube
	sm     *fakesecretsmanager.Server
	lambda apigateway.Lambda
	logs   *syncbuf.Buffer
	store  state.Store // the shared state, in memory unless the test sets one
}

type fixtureOpts struct {
	env       map[string]string // contract variables
	secret    string            // SecretString; "" leaves the secret missing
	smFail    *fakesecretsmanager.Failure
	store     state.Store // default: a fresh memstate
	replies   []http.HandlerFunc
	useKeyEnv bool // COMPLYCUBE_API_KEY instead of a secret
}

// awsTestEnv points the real SDK at the fake Secrets Manager with static
// credentials, and keeps it away from the instance metadata endpoint.
func awsTestEnv(t *testing.T, endpoint string) {
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTESTTESTTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret-access-key")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_PROFILE", "")
}

func newFixture(t *testing.T, o fixtureOpts) *fixture {
	t.Helper()
	sm := fakesecretsmanager.Start()
	t.Cleanup(sm.Close)
	if o.secret != "" {
		sm.SetSecret(secretID, o.secret)
	}
	sm.Fail(o.smFail)
	return buildFixture(t, sm, o)
}

// newFixtureWithSM builds a fixture around a fake the test prepared.
func newFixtureWithSM(t *testing.T, sm *fakesecretsmanager.Server) *fixture {
	return buildFixture(t, sm, fixtureOpts{})
}

func buildFixture(t *testing.T, sm *fakesecretsmanager.Server, o fixtureOpts) *fixture {
	t.Helper()
	if len(o.replies) == 0 {
		o.replies = []http.HandlerFunc{redirectOK(sessionURL)}
	}
	fixturesBuilt++
	f := &fixture{t: t, cc: newFakeComplyCube(t, o.replies...), sm: sm, logs: &syncbuf.Buffer{}, store: o.store}
	if f.store == nil {
		f.store = memstate.New()
	}
	awsTestEnv(t, f.sm.URL())
	env := map[string]string{
		startup.EnvSecretID:         secretID,
		sessionfn.EnvBaseURL:        f.cc.srv.URL,
		sessionfn.EnvAllowedOrigins: allowed,
	}
	if o.useKeyEnv {
		delete(env, startup.EnvSecretID)
		env[startup.EnvAPIKey] = apiKey
	}
	for k, v := range o.env {
		if v == "" {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	cfg, err := sessionfn.LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	if cfg.SecretID != "" {
		cfg.AWS = lambdaemu.LoadAWS(t) // as FromEnv reads it; awsTestEnv set it
	}
	log := slog.New(slog.NewJSONHandler(io.MultiWriter(f.logs, everything), nil))
	h, err := sessionfn.Build(context.Background(), cfg, f.store, log, nil)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	f.lambda = h
	return f
}

// req is a request to send as an event.
type req struct {
	sourceIP string // the address API Gateway saw; default 203.0.113.7
	method   string
	headers  map[string]string
	body     string
	base64   bool
	timeout  time.Duration // the invocation's remaining time; default 10s
}

// post is a browser-like POST from the allowed origin.
func post(body string) req {
	return req{method: "POST", headers: map[string]string{"origin": allowed, "content-type": "application/json"}, body: body}
}

// answer is a decoded HTTP API response.
type answer struct {
	Status  int
	Headers map[string]string
	Body    string
	// StatusToken is a 200's statusToken, taken out of Body.
	StatusToken string
}

func (a answer) header(name string) string {
	for k, v := range a.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

var requestCounter int

// invoke sends r as an HTTP API 2.0 event, the way API Gateway shapes it.
func (f *fixture) invoke(r req) answer {
	f.t.Helper()
	requestCounter++
	if r.sourceIP == "" {
		r.sourceIP = "203.0.113.7"
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version:         "2.0",
		RouteKey:        r.method + " /sessions",
		RawPath:         "/sessions",
		Headers:         r.headers,
		Body:            r.body,
		IsBase64Encoded: r.base64,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: fmt.Sprintf("apigw-%d", requestCounter),
			HTTP:      events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: r.method, Path: "/sessions", Protocol: "HTTP/1.1", SourceIP: r.sourceIP},
		},
	}
	payload, _ := json.Marshal(ev)
	out := f.invokeRaw(payload, r.timeout)
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		f.t.Fatalf("response is not an HTTP API response: %v: %s", err, out)
	}
	a := answer{Status: resp.StatusCode, Headers: resp.Headers, Body: resp.Body}
	if a.Status == 200 {
		a.Body, a.StatusToken = f.takeStatusToken(a.Body)
	}
	return a
}

// statusTokenMember is how the answer's last member looks.
var statusTokenMember = regexp.MustCompile(`,"statusToken":"([A-Za-z0-9_-]{22})"}$`)

// takeStatusToken checks a 200's statusToken and returns the body without
// it, so that tests compare the rest as before. The token must be 128 bits
// of base64url, and the shared state must hold only its hash, naming the
// client ComplyCube was last asked a session for.
func (f *fixture) takeStatusToken(body string) (rest, token string) {
	f.t.Helper()
	m := statusTokenMember.FindStringSubmatch(body)
	if m == nil {
		f.t.Errorf("a 200 without a well-formed statusToken as its last member: %s", body)
		return body, ""
	}
	token = m[1]
	raw, err := f.store.Get(context.Background(), state.StatusTokenKey(token))
	if err != nil {
		// Allowed only when the write failed and the log line says so.
		if _, said := f.lastRequestLog()["stateError"]; !said {
			f.t.Errorf("the status token is not in the shared state: %v", err)
		}
	} else if calls := f.cc.Calls(); len(calls) > 0 {
		var sent struct{ ClientID string }
		json.Unmarshal(calls[len(calls)-1].Body, &sent)
		rec, derr := state.DecodeStatusTokenRecord(raw)
		if derr != nil || rec.ClientID != sent.ClientID || time.Since(rec.IssuedAt) > time.Minute {
			f.t.Errorf("the status token's record %q (%v); the session was for %q, just now", raw, derr, sent.ClientID)
		}
	}
	if _, err := f.store.Get(context.Background(), token); err == nil {
		f.t.Errorf("the shared state holds the token itself, not only its hash")
	}
	return strings.TrimSuffix(body, m[0]) + "}", token
}

// invokeRaw calls the Lambda adapter with a payload, as the runtime does.
func (f *fixture) invokeRaw(payload []byte, timeout time.Duration) []byte {
	f.t.Helper()
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	requestID := fmt.Sprintf("lambda-req-%d", requestCounter)
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: requestID})
	out, err := f.lambda.Invoke(ctx, payload)
	if err != nil {
		f.t.Fatalf("Invoke returned a Lambda error: %v", err)
	}
	fmt.Fprintf(everything, "ANSWER %s\n", out)
	return out
}

// logLines returns the fixture's log lines, decoded.
func (f *fixture) logLines() []map[string]any {
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(f.logs.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			f.t.Fatalf("log line is not JSON: %q", l)
		}
		lines = append(lines, m)
	}
	return lines
}

// requestLogs returns the per-request log lines.
func (f *fixture) requestLogs() []map[string]any {
	var out []map[string]any
	for _, l := range f.logLines() {
		if l["msg"] == "request" {
			out = append(out, l)
		}
	}
	return out
}

func (f *fixture) lastRequestLog() map[string]any {
	f.t.Helper()
	ls := f.requestLogs()
	if len(ls) == 0 {
		f.t.Fatal("no request log line")
	}
	return ls[len(ls)-1]
}

// lastRequestLine is the last per-request log line, as written.
func (f *fixture) lastRequestLine() string {
	f.t.Helper()
	var last string
	for _, l := range strings.Split(f.logs.String(), "\n") {
		if strings.Contains(l, `"msg":"request"`) {
			last = l
		}
	}
	if last == "" {
		f.t.Fatal("no request log line")
	}
	return last
}

const validBody = `{"clientId":"5eb04fcd0f3e360008035eb1","workflowTemplateId":"wt_123","successUrl":"https://app.example.com/done","cancelUrl":"https://app.example.com/cancel"}`

// errorBody renders the function's own error shape.
func errorBody(typ, message, param string) string {
	b, _ := json.Marshal(api.Error{Type: typ, Message: message, Param: param})
	return string(b)
}

// checkCommon asserts the headers every answer carries.
func checkCommon(t *testing.T, a answer, origin string) {
	t.Helper()
	if got := a.header("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if a.Status == 204 {
		if a.header("Content-Type") != "" || a.Body != "" {
			t.Errorf("204 has Content-Type %q, body %q", a.header("Content-Type"), a.Body)
		}
	} else {
		if got := a.header("Content-Type"); got != "application/json" {
			t.Errorf("Content-Type = %q", got)
		}
		if !json.Valid([]byte(a.Body)) {
			t.Errorf("body is not JSON: %q", a.Body)
		}
	}
	if got := a.header("Access-Control-Allow-Origin"); got != origin {
		t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, origin)
	}
	if origin != "" && a.header("Vary") != "Origin" {
		t.Errorf("Vary = %q, want Origin", a.header("Vary"))
	}
}
