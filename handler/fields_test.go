package handler_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// body builds a request body from validBody with fields replaced (a value of
// nil removes the field; a raw JSON value is given as json.RawMessage).
func body(t *testing.T, changes map[string]any) string {
	t.Helper()
	m := map[string]any{}
	if err := json.Unmarshal([]byte(validBody), &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range changes {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type raw = json.RawMessage

// TestFieldRules pins every body-field rule: a 400 invalid_request with
// param naming the field, and ComplyCube not called.
func TestFieldRules(t *testing.T) {
	long := strings.Repeat("a", 129)
	tests := []struct {
		name    string
		changes map[string]any
		param   string
		message string
	}{
		{"clientId missing", map[string]any{"clientId": nil}, "clientId", "'clientId' is required"},
		{"clientId null", map[string]any{"clientId": raw("null")}, "clientId", "'clientId' is required"},
		{"clientId empty", map[string]any{"clientId": ""}, "clientId", "'clientId' must be 1 to 128 letters, digits, '_' or '-'"},
		{"clientId too long", map[string]any{"clientId": long}, "clientId", "'clientId' must be 1 to 128 letters, digits, '_' or '-'"},
		{"clientId with a dot", map[string]any{"clientId": "a.b"}, "clientId", "'clientId' must be 1 to 128 letters, digits, '_' or '-'"},
		{"clientId with a newline", map[string]any{"clientId": "abc\ndef"}, "clientId", "'clientId' must be 1 to 128 letters, digits, '_' or '-'"},
		{"clientId a number", map[string]any{"clientId": raw("12345")}, "clientId", "'clientId' must be 1 to 128 letters, digits, '_' or '-'"},
		{"clientId an array", map[string]any{"clientId": raw(`["5eb04fcd0f3e360008035eb1"]`)}, "clientId", "'clientId' must be 1 to 128 letters, digits, '_' or '-'"},
		{"workflowTemplateId missing with no list", map[string]any{"workflowTemplateId": nil}, "workflowTemplateId", "'workflowTemplateId' is required"},
		{"workflowTemplateId bad form", map[string]any{"workflowTemplateId": "wt 1"}, "workflowTemplateId", "'workflowTemplateId' must be 1 to 128 letters, digits, '_' or '-'"},
		{"workflowTemplateId an object", map[string]any{"workflowTemplateId": raw(`{}`)}, "workflowTemplateId", "'workflowTemplateId' must be 1 to 128 letters, digits, '_' or '-'"},
		{"successUrl missing", map[string]any{"successUrl": nil}, "successUrl", "'successUrl' is required"},
		{"successUrl null", map[string]any{"successUrl": raw("null")}, "successUrl", "'successUrl' is required"},
		{"successUrl a number", map[string]any{"successUrl": raw("1")}, "successUrl", "'successUrl' must be a URL string"},
		{"successUrl an empty array", map[string]any{"successUrl": raw("[]")}, "successUrl", "'successUrl' must be a URL string"},
		{"successUrl two URLs", map[string]any{"successUrl": []string{"https://app.example.com/a", "https://app.example.com/b"}}, "successUrl", "'successUrl' must be a URL string"},
		{"successUrl an array of a number", map[string]any{"successUrl": raw("[1]")}, "successUrl", "'successUrl' must be a URL string"},
		{"successUrl empty", map[string]any{"successUrl": ""}, "successUrl", "'successUrl' must be a URL of 1 to 2048 characters"},
		{"successUrl over 2048", map[string]any{"successUrl": "https://app.example.com/" + strings.Repeat("a", 2025)}, "successUrl", "'successUrl' must be a URL of 1 to 2048 characters"},
		{"successUrl elsewhere", map[string]any{"successUrl": "https://evil.example/"}, "successUrl", "'successUrl' must point to an origin this endpoint allows"},
		{"cancelUrl missing", map[string]any{"cancelUrl": nil}, "cancelUrl", "'cancelUrl' is required"},
		{"cancelUrl relative", map[string]any{"cancelUrl": "/cancel"}, "cancelUrl", "'cancelUrl' must be an absolute https URL"},
		{"cancelUrl elsewhere", map[string]any{"cancelUrl": "https://evil.example/"}, "cancelUrl", "'cancelUrl' must point to an origin this endpoint allows"},
		{"theme unknown", map[string]any{"theme": "blue"}, "theme", `'theme' must be "light" or "dark"`},
		{"theme upper case", map[string]any{"theme": "Dark"}, "theme", `'theme' must be "light" or "dark"`},
		{"theme a boolean", map[string]any{"theme": true}, "theme", `'theme' must be "light" or "dark"`},
		{"supportEmail not an address", map[string]any{"supportEmail": "support"}, "supportEmail", "'supportEmail' must be one e-mail address of at most 254 characters"},
		{"supportEmail with a name", map[string]any{"supportEmail": "Support <help@app.example.com>"}, "supportEmail", "'supportEmail' must be one e-mail address of at most 254 characters"},
		{"supportEmail two addresses", map[string]any{"supportEmail": "a@app.example.com,b@app.example.com"}, "supportEmail", "'supportEmail' must be one e-mail address of at most 254 characters"},
		{"supportEmail header injection", map[string]any{"supportEmail": "a@app.example.com\r\nBcc: victim@evil.example"}, "supportEmail", "'supportEmail' must be one e-mail address of at most 254 characters"},
		{"supportEmail too long", map[string]any{"supportEmail": strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 63) + ".com"}, "supportEmail", "'supportEmail' must be one e-mail address of at most 254 characters"},
		{"supportEmail a number", map[string]any{"supportEmail": 5}, "supportEmail", "'supportEmail' must be one e-mail address of at most 254 characters"},
		{"shortUrl a string", map[string]any{"shortUrl": "true"}, "shortUrl", "'shortUrl' must be true or false"},
		{"shortUrl a number", map[string]any{"shortUrl": 1}, "shortUrl", "'shortUrl' must be true or false"},
		{"an unknown field", map[string]any{"language": "en"}, "language", "'language' is not a field of a workflow session request"},
		{"an older session field", map[string]any{"checkTypes": []string{"document_check"}}, "checkTypes", "'checkTypes' is not a field of a workflow session request"},
		{"a field in another case", map[string]any{"clientid": "x"}, "clientid", "'clientid' is not a field of a workflow session request"},
	}
	f := newFixture(t, fixtureOpts{secret: apiKey})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := f.invoke(post(body(t, tc.changes)))
			want := errorBody("invalid_request", tc.message, tc.param)
			if a.Status != 400 || a.Body != want {
				t.Errorf("got %d %s\nwant 400 %s", a.Status, a.Body, want)
			}
			checkCommon(t, a, allowed)
		})
	}
	dup := `{"clientId":"5eb04fcd0f3e360008035eb1","clientId":"5eb04fcd0f3e360008035eb2","workflowTemplateId":"wt_123","successUrl":"https://app.example.com/done","cancelUrl":"https://app.example.com/cancel"}`
	if a := f.invoke(post(dup)); a.Body != errorBody("invalid_request", "'clientId' appears more than once", "clientId") {
		t.Errorf("duplicate key: %d %s", a.Status, a.Body)
	}
	if n := len(f.cc.Calls()); n != 0 {
		t.Errorf("ComplyCube was called %d times for invalid requests", n)
	}
}

// TestWhatComplyCubeReceives: the validated fields only, as strings, with
// the default template filled in, the raw key in Authorization.
func TestWhatComplyCubeReceives(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		body    string
		forward string
	}{
		{
			name:    "required fields only",
			body:    validBody,
			forward: `{"clientId":"5eb04fcd0f3e360008035eb1","workflowTemplateId":"wt_123","successUrl":"https://app.example.com/done","cancelUrl":"https://app.example.com/cancel"}`,
		},
		{
			name:    "every field; arrays become strings; nulls are dropped",
			body:    `{"clientId":"5eb04fcd0f3e360008035eb1","workflowTemplateId":"wt_123","successUrl":["https://app.example.com/done?x=1#y"],"cancelUrl":"https://app.example.com/cancel","theme":"dark","supportEmail":"help@app.example.com","shortUrl":false}`,
			forward: `{"clientId":"5eb04fcd0f3e360008035eb1","workflowTemplateId":"wt_123","successUrl":"https://app.example.com/done?x=1#y","cancelUrl":"https://app.example.com/cancel","theme":"dark","supportEmail":"help@app.example.com","shortUrl":false}`,
		},
		{
			name:    "null optional fields count as absent",
			body:    `{"clientId":"5eb04fcd0f3e360008035eb1","workflowTemplateId":"wt_123","successUrl":"https://app.example.com/done","cancelUrl":"https://app.example.com/cancel","theme":null,"supportEmail":null,"shortUrl":null}`,
			forward: `{"clientId":"5eb04fcd0f3e360008035eb1","workflowTemplateId":"wt_123","successUrl":"https://app.example.com/done","cancelUrl":"https://app.example.com/cancel"}`,
		},
		{
			name:    "the default template is filled in",
			env:     map[string]string{"WORKFLOW_TEMPLATE_IDS": "wt_default, wt_123"},
			body:    `{"clientId":"5eb04fcd0f3e360008035eb1","successUrl":"https://app.example.com/done","cancelUrl":"https://app.example.com/cancel","shortUrl":true}`,
			forward: `{"clientId":"5eb04fcd0f3e360008035eb1","workflowTemplateId":"wt_default","successUrl":"https://app.example.com/done","cancelUrl":"https://app.example.com/cancel","shortUrl":true}`,
		},
		{
			name:    "a listed template is kept",
			env:     map[string]string{"WORKFLOW_TEMPLATE_IDS": "wt_default,wt_123"},
			body:    validBody,
			forward: `{"clientId":"5eb04fcd0f3e360008035eb1","workflowTemplateId":"wt_123","successUrl":"https://app.example.com/done","cancelUrl":"https://app.example.com/cancel"}`,
		},
		{
			name:    "redirect allowlist of its own",
			env:     map[string]string{"ALLOWED_REDIRECT_ORIGINS": "https://verified.example.org"},
			body:    body(t, map[string]any{"successUrl": "https://verified.example.org/ok", "cancelUrl": "https://VERIFIED.example.org:443/no"}),
			forward: `{"clientId":"5eb04fcd0f3e360008035eb1","workflowTemplateId":"wt_123","successUrl":"https://verified.example.org/ok","cancelUrl":"https://VERIFIED.example.org:443/no"}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{secret: apiKey, env: tc.env})
			a := f.invoke(post(tc.body))
			if a.Status != 200 {
				t.Fatalf("status %d %s", a.Status, a.Body)
			}
			calls := f.cc.Calls()
			if len(calls) != 1 {
				t.Fatalf("%d calls to ComplyCube", len(calls))
			}
			c := calls[0]
			if c.Method != "POST" || c.Path != "/v1/flow/sessions" {
				t.Errorf("called %s %s", c.Method, c.Path)
			}
			if string(c.Body) != tc.forward {
				t.Errorf("forwarded\n  %s\nwant\n  %s", c.Body, tc.forward)
			}
			if got := c.Header.Get("Authorization"); got != apiKey {
				t.Error("Authorization is not the raw API key")
			}
			if got := c.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type %q", got)
			}
			if got := c.Header.Get("User-Agent"); !strings.HasPrefix(got, "complycube-createsession/") {
				t.Errorf("User-Agent %q", got)
			}
		})
	}
}

// TestTemplateAllowlist: a template not on WORKFLOW_TEMPLATE_IDS is refused.
func TestTemplateAllowlist(t *testing.T) {
	f := newFixture(t, fixtureOpts{secret: apiKey, env: map[string]string{"WORKFLOW_TEMPLATE_IDS": "wt_default"}})
	a := f.invoke(post(validBody))
	want := errorBody("invalid_request", "'workflowTemplateId' is not one this endpoint allows", "workflowTemplateId")
	if a.Status != 400 || a.Body != want {
		t.Errorf("got %d %s", a.Status, a.Body)
	}
	if len(f.cc.Calls()) != 0 {
		t.Error("ComplyCube called")
	}
}

// TestRedirectURLs pins the redirect-URL rules against tricks that make a
// URL look like the allowed origin while a browser would go elsewhere.
func TestRedirectURLs(t *testing.T) {
	hostile := []string{
		"https://app.example.com.evil.example/done",                  // look-alike suffix
		"https://app-example.com/done",                               // look-alike host
		"https://app.example.com@evil.example/done",                  // user-info
		"https://evil.example@app.example.com/done",                  // user-info before the real host
		"https://user:pass@app.example.com/done",                     // credentials
		"https://app.example.com:8443/done",                          // another port
		"https://app.example.com:/done",                              // empty port
		"https://app.example.com:0443/done",                          // padded port
		"http://app.example.com/done",                                // plain http
		"javascript:alert(document.domain)//https://app.example.com", // script scheme
		"data:text/html,<script>alert(1)</script>",                   // data URL
		"//app.example.com/done",                                     // protocol-relative
		"/\\evil.example/done",                                       // backslash path
		"https://evil.example\\@app.example.com/done",                // backslash authority
		"https:\\\\evil.example/done",                                // backslashes for slashes
		"https:app.example.com/done",                                 // no slashes (opaque)
		"https:/app.example.com/done",                                // one slash
		"https:///app.example.com/done",                              // empty host
		"https://app%2eexample.com/done",                             // encoded dot
		"https://%61pp.example.com/done",                             // encoded letter
		"https://app.example.com%2f@evil.example/done",               // encoded slash before @
		"https://аpp.example.com/done",                               // Cyrillic a
		"https://xn--pp-8cd.example.com/done",                        // punycode look-alike (not on list)
		" https://app.example.com/done",                              // leading space
		"https://app.example.com/done\r\nSet-Cookie: a=b",            // header injection
		"https://app.example.com\t/done",                             // tab
		"https://app.example.com/\x00done",                           // NUL
		"https://[::1]/done",                                         // IPv6 not on list
		"https://0x7f.0.0.1/done",                                    // hex IPv4
		"https://2130706433/done",                                    // integer IPv4
		"http://localhost.evil.example/done",                         // localhost look-alike
		"ftp://app.example.com/done",                                 // other scheme
		"HTTPS://evil.example/done",                                  // case in scheme, other host
		"https://app.example.com./done",                              // trailing dot: another origin to a browser
	}
	f := newFixture(t, fixtureOpts{secret: apiKey})
	for _, u := range hostile {
		for _, field := range []string{"successUrl", "cancelUrl"} {
			a := f.invoke(post(body(t, map[string]any{field: u})))
			var e struct{ Type, Param string }
			_ = json.Unmarshal([]byte(a.Body), &e)
			if a.Status != 400 || e.Type != "invalid_request" || e.Param != field {
				t.Errorf("%s %q: got %d %s, want 400 invalid_request param %s", field, u, a.Status, a.Body, field)
			}
		}
	}
	if n := len(f.cc.Calls()); n != 0 {
		t.Fatalf("ComplyCube called %d times for hostile URLs", n)
	}
	accepted := []string{
		"https://app.example.com",
		"https://app.example.com/",
		"https://app.example.com/done?session=1&x=%20y#top",
		"https://APP.example.com/done",
		"HTTPS://app.example.com/done",
		"https://app.example.com:443/done",
	}
	for _, u := range accepted {
		a := f.invoke(post(body(t, map[string]any{"successUrl": u})))
		if a.Status != 200 {
			t.Errorf("%q refused: %s", u, a.Body)
		}
	}
}

// TestRedirectURLsWithoutAllowlist: with no allowlist any https URL goes,
// http only to loopback, and the tricks above still fail.
func TestRedirectURLsWithoutAllowlist(t *testing.T) {
	f := newFixture(t, fixtureOpts{secret: apiKey, env: map[string]string{"ALLOWED_ORIGINS": ""}})
	noOrigin := func(b string) req {
		return req{method: "POST", headers: map[string]string{"content-type": "application/json"}, body: b}
	}
	for _, u := range []string{"https://anywhere.example/x", "http://localhost:8000/done", "http://127.0.0.1:5173/", "http://[::1]:8000/ok", "https://[2001:db8::1]/ok", "https://192.0.2.1/ok"} {
		if a := f.invoke(noOrigin(body(t, map[string]any{"cancelUrl": u}))); a.Status != 200 {
			t.Errorf("%q refused: %s", u, a.Body)
		}
	}
	for _, u := range []string{"http://anywhere.example/x", "http://localhost.evil.example/", "https://a@anywhere.example/", "javascript:alert(1)", "http://127.0.0.2/"} {
		if a := f.invoke(noOrigin(body(t, map[string]any{"cancelUrl": u}))); a.Status != 400 {
			t.Errorf("%q accepted", u)
		}
	}
	warned := false
	for _, l := range f.logLines() {
		if l["level"] == "WARN" && strings.Contains(l["msg"].(string), "any https URL") {
			warned = true
		}
	}
	if !warned {
		t.Error("no start-up warning that any https redirect URL is allowed")
	}
}
