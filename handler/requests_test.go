package handler_test

import (
	"encoding/base64"
	"strings"
	"testing"
)

// TestRequestRows pins the contract's "Requests" table: each row, through
// the Lambda adapter, with the answer's status, headers and exact body, and
// whether ComplyCube was called.
func TestRequestRows(t *testing.T) {
	big := `{"clientId":"5eb04fcd0f3e360008035eb1","pad":"` + strings.Repeat("x", 16<<10) + `"}`
	// exactly 16 KiB of valid body: validBody padded with spaces.
	exact := validBody + strings.Repeat(" ", 16<<10-len(validBody))
	tests := []struct {
		name     string
		req      req
		status   int
		body     string // exact; "" for none
		origin   string // expected Access-Control-Allow-Origin
		headers  map[string]string
		calledCC bool
	}{
		{
			name:   "preflight from an allowed origin",
			req:    req{method: "OPTIONS", headers: map[string]string{"Origin": allowed, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}},
			status: 204, origin: allowed,
			headers: map[string]string{"Access-Control-Allow-Methods": "POST, OPTIONS", "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "7200", "Vary": "Origin"},
		},
		{
			name:   "preflight with header names in another case",
			req:    req{method: "OPTIONS", headers: map[string]string{"ORIGIN": allowed}},
			status: 204, origin: allowed,
			headers: map[string]string{"Access-Control-Max-Age": "7200"},
		},
		{
			name:   "preflight from an origin that is not allowed",
			req:    req{method: "OPTIONS", headers: map[string]string{"origin": "https://evil.example"}},
			status: 403, body: errorBody("origin_not_allowed", "This origin may not call this endpoint.", ""),
		},
		{
			name:   "POST from an origin that is not allowed",
			req:    req{method: "POST", headers: map[string]string{"origin": "https://evil.example", "content-type": "application/json"}, body: validBody},
			status: 403, body: errorBody("origin_not_allowed", "This origin may not call this endpoint.", ""),
		},
		{
			name:   "an empty Origin header is not allowed",
			req:    req{method: "POST", headers: map[string]string{"origin": "", "content-type": "application/json"}, body: validBody},
			status: 403, body: errorBody("origin_not_allowed", "This origin may not call this endpoint.", ""),
		},
		{
			name:   "GET is not allowed, with Allow and CORS headers",
			req:    req{method: "GET", headers: map[string]string{"origin": allowed}},
			status: 405, body: errorBody("method_not_allowed", "Only POST is allowed.", ""), origin: allowed,
			headers: map[string]string{"Allow": "OPTIONS, POST"},
		},
		{
			name:   "PUT without an Origin",
			req:    req{method: "PUT", headers: map[string]string{"content-type": "application/json"}, body: validBody},
			status: 405, body: errorBody("method_not_allowed", "Only POST is allowed.", ""),
			headers: map[string]string{"Allow": "OPTIONS, POST"},
		},
		{
			name:   "text/plain",
			req:    req{method: "POST", headers: map[string]string{"origin": allowed, "content-type": "text/plain"}, body: validBody},
			status: 415, body: errorBody("unsupported_media_type", "Content-Type must be application/json.", ""), origin: allowed,
		},
		{
			name:   "no Content-Type",
			req:    req{method: "POST", headers: map[string]string{"origin": allowed}, body: validBody},
			status: 415, body: errorBody("unsupported_media_type", "Content-Type must be application/json.", ""), origin: allowed,
		},
		{
			name:   "application/jsonx is not application/json",
			req:    req{method: "POST", headers: map[string]string{"content-type": "application/jsonx"}, body: validBody},
			status: 415, body: errorBody("unsupported_media_type", "Content-Type must be application/json.", ""),
		},
		{
			name:   "application/json with charset, in upper case",
			req:    req{method: "POST", headers: map[string]string{"Content-Type": "Application/JSON; charset=UTF-8"}, body: validBody},
			status: 200, body: `{"redirectUrl":"` + sessionURL + `"}`, calledCC: true,
		},
		{
			name:   "a body over 16 KiB",
			req:    post(big),
			status: 413, body: errorBody("request_too_large", "The body is larger than 16 KiB.", ""), origin: allowed,
		},
		{
			name:   "a body of exactly 16 KiB is accepted",
			req:    post(exact),
			status: 200, body: `{"redirectUrl":"` + sessionURL + `"}`, origin: allowed, calledCC: true,
		},
		{
			name:   "a base64 body over 16 KiB once decoded",
			req:    req{method: "POST", headers: map[string]string{"content-type": "application/json"}, body: base64.StdEncoding.EncodeToString([]byte(big)), base64: true},
			status: 413, body: errorBody("request_too_large", "The body is larger than 16 KiB.", ""),
		},
		{
			name:   "a base64 body is decoded first",
			req:    req{method: "POST", headers: map[string]string{"content-type": "application/json", "origin": allowed}, body: base64.StdEncoding.EncodeToString([]byte(validBody)), base64: true},
			status: 200, body: `{"redirectUrl":"` + sessionURL + `"}`, origin: allowed, calledCC: true,
		},
		{
			name:   "a body marked base64 that is not",
			req:    req{method: "POST", headers: map[string]string{"content-type": "application/json"}, body: "{not base64}", base64: true},
			status: 400, body: errorBody("invalid_request", "The body is marked base64 but is not valid base64.", ""),
		},
		{name: "not JSON", req: post(`clientId=1`), status: 400, body: errorBody("invalid_request", "the body must be one JSON object", ""), origin: allowed},
		{name: "empty body", req: post(``), status: 400, body: errorBody("invalid_request", "the body must be one JSON object", ""), origin: allowed},
		{name: "a JSON array", req: post(`[` + validBody + `]`), status: 400, body: errorBody("invalid_request", "the body must be one JSON object", ""), origin: allowed},
		{name: "a JSON string", req: post(`"x"`), status: 400, body: errorBody("invalid_request", "the body must be one JSON object", ""), origin: allowed},
		{name: "null", req: post(`null`), status: 400, body: errorBody("invalid_request", "the body must be one JSON object", ""), origin: allowed},
		{name: "two objects", req: post(validBody + validBody), status: 400, body: errorBody("invalid_request", "the body must be one JSON object", ""), origin: allowed},
		{name: "trailing garbage", req: post(validBody + `x`), status: 400, body: errorBody("invalid_request", "the body must be one JSON object", ""), origin: allowed},
		{name: "truncated object", req: post(validBody[:40]), status: 400, body: errorBody("invalid_request", "the body must be one JSON object", ""), origin: allowed},
		{
			name:   "invalid UTF-8 (sent base64, as API Gateway sends binary bodies)",
			req:    req{method: "POST", headers: map[string]string{"content-type": "application/json"}, body: base64.StdEncoding.EncodeToString([]byte("{\"clientId\":\"5eb04fcd0f3e360008035eb1\",\"theme\":\"\xff\"}")), base64: true},
			status: 400, body: errorBody("invalid_request", "the body is not valid UTF-8", ""),
		},
		{
			name:   "no Origin header: CORS does not apply, validation does",
			req:    req{method: "POST", headers: map[string]string{"content-type": "application/json"}, body: validBody},
			status: 200, body: `{"redirectUrl":"` + sessionURL + `"}`, calledCC: true,
		},
		{
			name:   "allowed origin written in another case and with the default port",
			req:    req{method: "POST", headers: map[string]string{"origin": "HTTPS://APP.EXAMPLE.COM:443", "content-type": "application/json"}, body: validBody},
			status: 200, body: `{"redirectUrl":"` + sessionURL + `"}`, origin: "HTTPS://APP.EXAMPLE.COM:443", calledCC: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{secret: apiKey})
			a := f.invoke(tc.req)
			if a.Status != tc.status {
				t.Fatalf("status = %d, want %d (body %s)", a.Status, tc.status, a.Body)
			}
			if a.Body != tc.body {
				t.Errorf("body =\n  %s\nwant\n  %s", a.Body, tc.body)
			}
			checkCommon(t, a, tc.origin)
			for k, v := range tc.headers {
				if got := a.header(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if called := len(f.cc.Calls()) > 0; called != tc.calledCC {
				t.Errorf("ComplyCube called = %v, want %v", called, tc.calledCC)
			}
		})
	}
}

// TestLookAlikeOrigins: origins that only look allowed are refused, and the
// same origin written differently is accepted.
func TestLookAlikeOrigins(t *testing.T) {
	f := newFixture(t, fixtureOpts{secret: apiKey, env: map[string]string{"ALLOWED_ORIGINS": "https://app.example.com, http://localhost:8000"}})
	refused := []string{
		"https://app.example.com.evil.example",
		"https://evilapp.example.com",
		"https://app.example.co",
		"http://app.example.com",
		"https://app.example.com:8443",
		"https://app.example.com/",
		"https://app.example.com/path",
		"https://user@app.example.com",
		"null",
		"https://app.example.com, https://evil.example",
		"https://app%2eexample.com",
		"https://аpp.example.com", // Cyrillic a
		"http://localhost:8001",
		"http://localhost",
		"file://",
		"app.example.com",
	}
	for _, o := range refused {
		a := f.invoke(req{method: "POST", headers: map[string]string{"origin": o, "content-type": "application/json"}, body: validBody})
		if a.Status != 403 || a.header("Access-Control-Allow-Origin") != "" {
			t.Errorf("origin %q: status %d, ACAO %q; want 403 and none", o, a.Status, a.header("Access-Control-Allow-Origin"))
		}
	}
	if n := len(f.cc.Calls()); n != 0 {
		t.Errorf("ComplyCube called %d times for refused origins", n)
	}
	for _, o := range []string{"https://app.example.com", "https://App.Example.Com", "https://app.example.com:443", "http://localhost:8000", "HTTP://LOCALHOST:8000"} {
		a := f.invoke(req{method: "POST", headers: map[string]string{"origin": o, "content-type": "application/json"}, body: validBody})
		if a.Status != 200 || a.header("Access-Control-Allow-Origin") != o {
			t.Errorf("origin %q: status %d, ACAO %q; want 200 and the origin echoed", o, a.Status, a.header("Access-Control-Allow-Origin"))
		}
	}
}

// TestNoOriginsConfigured: with ALLOWED_ORIGINS empty no browser origin is
// allowed, but server-to-server calls still work.
func TestNoOriginsConfigured(t *testing.T) {
	f := newFixture(t, fixtureOpts{secret: apiKey, env: map[string]string{"ALLOWED_ORIGINS": ""}})
	a := f.invoke(post(validBody))
	if a.Status != 403 {
		t.Errorf("browser call: %d, want 403", a.Status)
	}
	a = f.invoke(req{method: "POST", headers: map[string]string{"content-type": "application/json"}, body: validBody})
	if a.Status != 200 {
		t.Errorf("call with no Origin: %d, want 200", a.Status)
	}
}

// TestAnyOrigin: "*" allows any origin and echoes it.
func TestAnyOrigin(t *testing.T) {
	f := newFixture(t, fixtureOpts{secret: apiKey, env: map[string]string{"ALLOWED_ORIGINS": "*"}})
	a := f.invoke(req{method: "POST", headers: map[string]string{"origin": "https://anything.example", "content-type": "application/json"}, body: validBody})
	if a.Status != 200 || a.header("Access-Control-Allow-Origin") != "https://anything.example" {
		t.Errorf("status %d ACAO %q", a.Status, a.header("Access-Control-Allow-Origin"))
	}
	warned := false
	for _, l := range f.logLines() {
		if l["level"] == "WARN" && strings.Contains(l["msg"].(string), "ALLOWED_ORIGINS is *") {
			warned = true
		}
	}
	if !warned {
		t.Error("no warning logged for ALLOWED_ORIGINS=*")
	}
}
