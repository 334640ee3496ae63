package handler_test

import (
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/complycube-session/createsession/internal/testonly/fakesecretsmanager"
)

var (
	upstreamError   = errorBody("upstream_error", "The verification service could not be reached.", "")
	upstreamTimeout = errorBody("upstream_timeout", "The verification service did not answer in time.", "")
	unavailable     = errorBody("service_unavailable", "The service is not available right now. Try again shortly.", "")
	rateLimited     = errorBody("rate_limit_exceeded", "Too many requests. Try again later.", "")
)

// TestComplyCubeAnswers pins the contract's "Answers" table row by row.
func TestComplyCubeAnswers(t *testing.T) {
	cc400 := `{"type":"invalid_request","message":"'clientId' is invalid","param":"clientId"}`
	tests := []struct {
		name       string
		replies    []http.HandlerFunc
		env        map[string]string
		status     int
		body       string
		retryAfter string
		calls      int
	}{
		{name: "200 with redirectUrl", replies: []http.HandlerFunc{redirectOK(sessionURL)}, status: 200, body: `{"redirectUrl":"` + sessionURL + `"}`, calls: 1},
		{name: "201 with redirectUrl and other fields, which are dropped", replies: []http.HandlerFunc{reply(201, `{"id":"x","redirectUrl":"`+sessionURL+`","clientId":"5eb04fcd0f3e360008035eb1"}`)}, status: 200, body: `{"redirectUrl":"` + sessionURL + `"}`, calls: 1},
		{name: "400 passed through byte for byte", replies: []http.HandlerFunc{reply(400, cc400)}, status: 400, body: cc400, calls: 1},
		{name: "400 with odd spacing kept", replies: []http.HandlerFunc{reply(400, "{ \"type\" : \"invalid_request\",\n \"message\":\"x\" }\n")}, status: 400, body: "{ \"type\" : \"invalid_request\",\n \"message\":\"x\" }\n", calls: 1},
		{name: "404 passed through", replies: []http.HandlerFunc{reply(404, `{"type":"resource_not_found","message":"Client not found"}`)}, status: 404, body: `{"type":"resource_not_found","message":"Client not found"}`, calls: 1},
		{name: "422 passed through", replies: []http.HandlerFunc{reply(422, `{"type":"unprocessable","message":"no active version"}`)}, status: 422, body: `{"type":"unprocessable","message":"no active version"}`, calls: 1},
		{name: "400 with invalid UTF-8 (found by FuzzComplyCubeAnswer)", replies: []http.HandlerFunc{reply(400, "{\"message\":\"\x8e\"}")}, status: 502, body: upstreamError, calls: 1},
		{name: "400 that is not JSON", replies: []http.HandlerFunc{reply(400, `<html>bad</html>`, "Content-Type", "text/html")}, status: 502, body: upstreamError, calls: 1},
		{name: "429 with Retry-After", replies: []http.HandlerFunc{reply(429, `{"type":"rate_limit_exceeded","message":"Too many requests"}`, "Retry-After", "3")}, status: 429, body: rateLimited, retryAfter: "3", calls: 1},
		{name: "429 with an HTTP-date Retry-After", replies: []http.HandlerFunc{reply(429, `{}`, "Retry-After", "Wed, 21 Oct 2026 07:28:00 GMT")}, status: 429, body: rateLimited, retryAfter: "Wed, 21 Oct 2026 07:28:00 GMT", calls: 1},
		{name: "429 without Retry-After", replies: []http.HandlerFunc{reply(429, `{}`)}, status: 429, body: rateLimited, calls: 1},
		{name: "429 with a malformed Retry-After is not passed on", replies: []http.HandlerFunc{reply(429, `{}`, "Retry-After", "soon")}, status: 429, body: rateLimited, calls: 1},
		{name: "402 payment due", replies: []http.HandlerFunc{reply(402, `{"type":"payment_required"}`)}, status: 502, body: upstreamError, calls: 1},
		{name: "413 from ComplyCube", replies: []http.HandlerFunc{reply(413, `{}`)}, status: 502, body: upstreamError, calls: 1},
		{name: "500 then 200 is retried once", replies: []http.HandlerFunc{reply(500, `{"type":"internal_server_error"}`), redirectOK(sessionURL)}, status: 200, body: `{"redirectUrl":"` + sessionURL + `"}`, calls: 2},
		{name: "503 twice", replies: []http.HandlerFunc{reply(503, `{}`)}, status: 502, body: upstreamError, calls: 2},
		{name: "502 then 400: the second answer counts", replies: []http.HandlerFunc{reply(502, ``), reply(400, cc400)}, status: 400, body: cc400, calls: 2},
		{name: "200 without redirectUrl", replies: []http.HandlerFunc{reply(200, `{"id":"x"}`)}, status: 502, body: upstreamError, calls: 1},
		{name: "200 with an empty redirectUrl", replies: []http.HandlerFunc{reply(200, `{"redirectUrl":""}`)}, status: 502, body: upstreamError, calls: 1},
		{name: "200 with a numeric redirectUrl", replies: []http.HandlerFunc{reply(200, `{"redirectUrl":42}`)}, status: 502, body: upstreamError, calls: 1},
		{name: "200 with a javascript: redirectUrl", replies: []http.HandlerFunc{reply(200, `{"redirectUrl":"javascript:alert(1)"}`)}, status: 502, body: upstreamError, calls: 1},
		{name: "200 that is not JSON", replies: []http.HandlerFunc{reply(200, `OK`)}, status: 502, body: upstreamError, calls: 1},
		{name: "200 with an empty body", replies: []http.HandlerFunc{reply(200, ``)}, status: 502, body: upstreamError, calls: 1},
		{name: "204", replies: []http.HandlerFunc{reply(204, ``)}, status: 502, body: upstreamError, calls: 1},
		{name: "an answer over 64 KiB", replies: []http.HandlerFunc{reply(200, `{"redirectUrl":"`+sessionURL+`","pad":"`+strings.Repeat("x", 70<<10)+`"}`)}, status: 502, body: upstreamError, calls: 1},
		{name: "no answer within UPSTREAM_TIMEOUT", replies: []http.HandlerFunc{hang}, env: map[string]string{"UPSTREAM_TIMEOUT": "200ms"}, status: 504, body: upstreamTimeout, calls: 1},
		{
			name: "headers then a stalled body", env: map[string]string{"UPSTREAM_TIMEOUT": "200ms"}, status: 504, body: upstreamTimeout, calls: 1,
			replies: []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(200)
				w.Write([]byte(`{"redirectUrl":`))
				w.(http.Flusher).Flush()
				<-r.Context().Done()
			}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{secret: apiKey, replies: tc.replies, env: tc.env})
			a := f.invoke(post(validBody))
			if a.Status != tc.status || a.Body != tc.body {
				t.Fatalf("got %d %s\nwant %d %s", a.Status, a.Body, tc.status, tc.body)
			}
			checkCommon(t, a, allowed)
			if got := a.header("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tc.retryAfter)
			}
			// A cross-origin page can read Retry-After only when exposed.
			if exposed := a.header("Access-Control-Expose-Headers"); (exposed == "Retry-After") != (tc.retryAfter != "") {
				t.Errorf("Access-Control-Expose-Headers = %q with Retry-After %q", exposed, tc.retryAfter)
			}
			if n := len(f.cc.Calls()); n != tc.calls {
				t.Errorf("ComplyCube called %d times, want %d", n, tc.calls)
			}
			l := f.lastRequestLog()
			if l["status"] != float64(tc.status) {
				t.Errorf("logged status %v", l["status"])
			}
		})
	}
}

// TestRedirectNotFollowed: a 3xx is a 502, and the key never reaches the
// host it points to.
func TestRedirectNotFollowed(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.Write([]byte(`{"redirectUrl":"https://phish.example/"}`))
	}))
	defer other.Close()
	for _, status := range []int{301, 302, 303, 307, 308} {
		f := newFixture(t, fixtureOpts{secret: apiKey, replies: []http.HandlerFunc{reply(status, ``, "Location", other.URL+"/v1/flow/sessions")}})
		a := f.invoke(post(validBody))
		if a.Status != 502 || a.Body != upstreamError {
			t.Errorf("%d: got %d %s", status, a.Status, a.Body)
		}
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the redirect target was called %d times", n)
	}
}

// TestConnectionRefused: a failed connection is retried once, then 502.
func TestConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	f := newFixture(t, fixtureOpts{secret: apiKey, env: map[string]string{"COMPLYCUBE_BASE_URL": "http://" + addr}})
	a := f.invoke(post(validBody))
	if a.Status != 502 || a.Body != upstreamError {
		t.Fatalf("got %d %s", a.Status, a.Body)
	}
	if strings.Contains(a.Body, addr) {
		t.Error("the answer names an internal address")
	}
	l2 := f.lastRequestLog()
	if l2["complycubeAttempts"] != float64(2) {
		t.Errorf("attempts = %v, want 2", l2["complycubeAttempts"])
	}
	if !strings.Contains(l2["cause"].(string), "refused") {
		t.Errorf("cause %q does not say why", l2["cause"])
	}
}

// TestLambdaDeadline: with little time left and a ComplyCube that never
// answers, the caller still gets a JSON 504 before the invocation's deadline.
func TestLambdaDeadline(t *testing.T) {
	f := newFixture(t, fixtureOpts{secret: apiKey, replies: []http.HandlerFunc{hang}})
	r := post(validBody)
	r.timeout = 800 * time.Millisecond
	start := time.Now()
	a := f.invoke(r)
	took := time.Since(start)
	if a.Status != 504 || a.Body != upstreamTimeout {
		t.Fatalf("got %d %s", a.Status, a.Body)
	}
	if took >= 800*time.Millisecond {
		t.Errorf("answered after %v, past the 800ms deadline", took)
	}
	if n := len(f.cc.Calls()); n != 1 {
		t.Errorf("%d calls: a timed-out call must not be retried", n)
	}
}

// TestRetrySkippedWithoutRoom: a 500 is not retried when the deadline
// leaves no room for a second call.
func TestRetrySkippedWithoutRoom(t *testing.T) {
	f := newFixture(t, fixtureOpts{secret: apiKey, replies: []http.HandlerFunc{reply(500, `{}`)}})
	r := post(validBody)
	r.timeout = 900 * time.Millisecond // 600ms after the margin: under the 1s retry budget
	a := f.invoke(r)
	if a.Status != 502 {
		t.Fatalf("got %d", a.Status)
	}
	if n := len(f.cc.Calls()); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
}

// TestKeyRotation: on 401/403 the key is read again; a new key is used once.
func TestKeyRotation(t *testing.T) {
	for _, status := range []int{401, 403} {
		var f *fixture
		rotate := func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") == rotatedKey {
				redirectOK(sessionURL)(w, r)
				return
			}
			f.sm.SetSecret(secretID, `{"apiKey":"`+rotatedKey+`"}`) // rotation happened meanwhile
			reply(status, `{"type":"unauthorized","message":"Invalid API key"}`)(w, r)
		}
		f = newFixture(t, fixtureOpts{secret: apiKey, replies: []http.HandlerFunc{rotate}})
		time.Sleep(1100 * time.Millisecond) // past the once-a-second rule since init
		a := f.invoke(post(validBody))
		if a.Status != 200 {
			t.Fatalf("%d: got %d %s", status, a.Status, a.Body)
		}
		calls := f.cc.Calls()
		if len(calls) != 2 || calls[0].Header.Get("Authorization") != apiKey || calls[1].Header.Get("Authorization") != rotatedKey {
			t.Errorf("%d: calls %d, want the old key then the new one", status, len(calls))
		}
		if n := len(f.sm.Requests()); n != 2 {
			t.Errorf("%d: %d secret reads, want 2 (init and after the rejection)", status, n)
		}
		// The next request uses the new key straight away.
		f.invoke(post(validBody))
		if calls := f.cc.Calls(); calls[len(calls)-1].Header.Get("Authorization") != rotatedKey {
			t.Errorf("%d: the next request did not use the new key", status)
		}
		if l := f.lastRequestLog(); l["coldStart"] != false {
			t.Errorf("second request logged coldStart=%v", l["coldStart"])
		}
	}
}

// TestKeyRejectedAndUnchanged: a rejected key that Secrets Manager still
// holds gives 502; the secret is read at most once a second however many
// requests fail.
func TestKeyRejectedAndUnchanged(t *testing.T) {
	f := newFixture(t, fixtureOpts{secret: apiKey, replies: []http.HandlerFunc{reply(401, `{"type":"unauthorized","message":"Invalid API key"}`)}})
	for i := 0; i < 5; i++ {
		a := f.invoke(post(validBody))
		if a.Status != 502 || a.Body != upstreamError {
			t.Fatalf("got %d %s", a.Status, a.Body)
		}
	}
	if n := len(f.sm.Requests()); n != 1 {
		t.Errorf("%d secret reads within a second, want 1 (init only)", n)
	}
	time.Sleep(1100 * time.Millisecond)
	f.invoke(post(validBody))
	f.invoke(post(validBody))
	if n := len(f.sm.Requests()); n != 2 {
		t.Errorf("%d secret reads, want 2 after a second had passed", n)
	}
	if n := len(f.cc.Calls()); n != 7 {
		t.Errorf("%d ComplyCube calls, want 7: no retry with an unchanged key", n)
	}
}

// TestKeyFromEnvironmentRejected: with COMPLYCUBE_API_KEY there is nothing
// to re-read; a 401 is a 502.
func TestKeyFromEnvironmentRejected(t *testing.T) {
	f := newFixture(t, fixtureOpts{useKeyEnv: true, replies: []http.HandlerFunc{reply(401, `{}`)}})
	if a := f.invoke(post(validBody)); a.Status != 502 {
		t.Fatalf("got %d", a.Status)
	}
	if n := len(f.sm.Requests()); n != 0 {
		t.Errorf("Secrets Manager read %d times with COMPLYCUBE_API_KEY", n)
	}
	if c := f.cc.Calls(); len(c) != 1 || c[0].Header.Get("Authorization") != apiKey {
		t.Error("the environment key was not used")
	}
}

// TestSecretForms: bare and JSON secrets both work.
func TestSecretForms(t *testing.T) {
	for _, s := range []string{apiKey, "  " + apiKey + "\n", `{"apiKey":"` + apiKey + `"}`, `{"apiKey": "` + apiKey + `", "note": "rotated monthly"}`} {
		f := newFixture(t, fixtureOpts{secret: s})
		if a := f.invoke(post(validBody)); a.Status != 200 {
			t.Errorf("secret form %d chars: %d %s", len(s), a.Status, a.Body)
		}
		if c := f.cc.Calls(); len(c) != 1 || c[0].Header.Get("Authorization") != apiKey {
			t.Error("wrong key sent")
		}
	}
}

// TestKeyUnavailable: every way the key can fail to be read gives 503 with
// Retry-After, ComplyCube is not called, and the log says why.
func TestKeyUnavailable(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		fail   *fakesecretsmanager.Failure
		cause  string
	}{
		{"secret missing", "", nil, "ResourceNotFoundException"},
		{"access denied", apiKey, fakesecretsmanager.AccessDenied, "AccessDeniedException"},
		{"throttled", apiKey, fakesecretsmanager.Throttled, "ThrottlingException"},
		{"Secrets Manager failing", apiKey, fakesecretsmanager.InternalFail, "InternalServiceError"},
		{"JSON without apiKey", `{"key":"` + apiKey + `"}`, nil, `no "apiKey" field`},
		{"JSON apiKey not a string", `{"apiKey":5}`, nil, `"apiKey" is not a string`},
		{"empty secret", "   ", nil, "secret is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{secret: tc.secret, smFail: tc.fail})
			a := f.invoke(post(validBody))
			if a.Status != 503 || a.Body != unavailable {
				t.Fatalf("got %d %s", a.Status, a.Body)
			}
			checkCommon(t, a, allowed)
			if a.header("Retry-After") == "" {
				t.Error("no Retry-After")
			}
			if len(f.cc.Calls()) != 0 {
				t.Error("ComplyCube called without a key")
			}
			l := f.lastRequestLog()
			if cause, _ := l["cause"].(string); !strings.Contains(cause, tc.cause) {
				t.Errorf("cause %q does not contain %q", cause, tc.cause)
			}
			if strings.Contains(a.Body, secretID) {
				t.Error("the answer names the secret")
			}
		})
	}
}

// TestKeyRecovery: Secrets Manager down at init; requests get 503 without
// hammering it (at most one read a second); once it is back, the next read
// succeeds and requests work.
func TestKeyRecovery(t *testing.T) {
	f := newFixture(t, fixtureOpts{secret: apiKey, smFail: fakesecretsmanager.InternalFail})
	for i := 0; i < 3; i++ {
		if a := f.invoke(post(validBody)); a.Status != 503 {
			t.Fatalf("got %d", a.Status)
		}
	}
	reads := len(f.sm.Requests())
	f.sm.Fail(nil)
	if a := f.invoke(post(validBody)); a.Status != 503 {
		t.Fatalf("read again within a second: %d", a.Status)
	}
	if n := len(f.sm.Requests()); n != reads {
		t.Errorf("secret read %d more times within a second", n-reads)
	}
	time.Sleep(1100 * time.Millisecond)
	if a := f.invoke(post(validBody)); a.Status != 200 {
		t.Fatalf("after recovery: %d %s", a.Status, a.Body)
	}
}

// TestSecretsManagerHangs: the read at init is bounded, so a hanging
// Secrets Manager cannot use up Lambda's 10 s init.
func TestSecretsManagerHangs(t *testing.T) {
	sm := fakesecretsmanager.Start()
	defer sm.Close()
	sm.SetSecret(secretID, apiKey)
	sm.Delay(time.Minute)
	start := time.Now()
	f := newFixtureWithSM(t, sm)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("init took %v", took)
	}
	sm.Delay(0)
	if a := f.invoke(post(validBody)); a.Status != 200 {
		// The init read failed over 3s ago, so this request reads again.
		t.Fatalf("got %d %s", a.Status, a.Body)
	}
}

// TestRESTAPIEvents: payload format 1.0 in, 1.0 out.
func TestRESTAPIEvents(t *testing.T) {
	f := newFixture(t, fixtureOpts{secret: apiKey})
	ev := events.APIGatewayProxyRequest{
		Resource: "/sessions", Path: "/sessions", HTTPMethod: "POST",
		Headers:           map[string]string{"Origin": allowed, "Content-Type": "application/json"},
		MultiValueHeaders: map[string][]string{"Origin": {allowed}, "Content-Type": {"application/json"}},
		Body:              base64.StdEncoding.EncodeToString([]byte(validBody)), IsBase64Encoded: true,
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "rest-1", Stage: "prod"},
	}
	payload, _ := json.Marshal(ev)
	out := f.invokeRaw(payload, 0)
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if body, _ := f.takeStatusToken(resp.Body); resp.StatusCode != 200 || body != `{"redirectUrl":"`+sessionURL+`"}` {
		t.Fatalf("got %d %s", resp.StatusCode, resp.Body)
	}
	var shape map[string]any
	json.Unmarshal(out, &shape)
	if _, ok := shape["cookies"]; ok {
		t.Error("1.0 answer carries the 2.0 cookies field")
	}
	checkCommon(t, answer{Status: resp.StatusCode, Headers: resp.Headers, Body: resp.Body}, allowed)

	// Preflight through 1.0, header names in lower case only in multiValueHeaders.
	ev = events.APIGatewayProxyRequest{HTTPMethod: "OPTIONS", Path: "/sessions", MultiValueHeaders: map[string][]string{"origin": {allowed}}}
	payload, _ = json.Marshal(ev)
	json.Unmarshal(f.invokeRaw(payload, 0), &resp)
	if resp.StatusCode != 204 || resp.Headers["Access-Control-Allow-Origin"] != allowed {
		t.Errorf("1.0 preflight: %d %v", resp.StatusCode, resp.Headers)
	}
}

// TestNotAnEvent: whatever the payload, an HTTP answer and no Lambda error.
func TestNotAnEvent(t *testing.T) {
	f := newFixture(t, fixtureOpts{secret: apiKey})
	for _, p := range []string{`{}`, `[]`, `"x"`, `not json`, ``, `{"version":"2.0"}`, `{"httpMethod":5}`} {
		out := f.invokeRaw([]byte(p), 0)
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode != 405 || !json.Valid([]byte(resp.Body)) {
			t.Errorf("payload %q: %s", p, out)
		}
	}
}

// TestLogLines: one JSON line per request with the contract's fields, and
// neither the body nor supportEmail in it.
func TestLogLines(t *testing.T) {
	f := newFixture(t, fixtureOpts{secret: apiKey})
	const email = "private.person@app.example.com"
	f.invoke(post(body(t, map[string]any{"supportEmail": email})))
	f.invoke(req{method: "OPTIONS", headers: map[string]string{"origin": allowed}})
	f.invoke(post(`{"clientId":"bad id\n{\"level\":\"ERROR\"}"}`))
	lines := f.requestLogs()
	if len(lines) != 3 {
		t.Fatalf("%d request lines for 3 requests", len(lines))
	}
	first := lines[0]
	for _, k := range []string{"time", "level", "requestId", "method", "status", "complycubeStatus", "durationMs", "coldStart"} {
		if _, ok := first[k]; !ok {
			t.Errorf("log line has no %q: %v", k, first)
		}
	}
	if first["requestId"] == "" || first["method"] != "POST" || first["status"] != float64(200) || first["complycubeStatus"] != float64(200) || first["coldStart"] != true {
		t.Errorf("first line: %v", first)
	}
	if lines[1]["coldStart"] != false || lines[1]["status"] != float64(204) {
		t.Errorf("second line: %v", lines[1])
	}
	if _, ok := lines[1]["complycubeStatus"]; ok {
		t.Error("a preflight logs a ComplyCube status")
	}
	if lines[2]["level"] != "INFO" || lines[2]["error"] != "invalid_request" {
		t.Errorf("third line: %v", lines[2])
	}
	all := f.logs.String()
	for _, s := range []string{email, "5eb04fcd0f3e360008035eb1", "app.example.com/done"} {
		if strings.Contains(all, s) {
			t.Errorf("the log holds %q from a request body", s)
		}
	}
	// A forged line inside a field must not start a line of its own.
	for _, l := range strings.Split(strings.TrimSpace(all), "\n") {
		if strings.HasPrefix(l, `{"level"`) {
			t.Errorf("forged log line: %s", l)
		}
	}
}
