package handler_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// hostileCase is one hostile request and the answer it must get.
type hostileCase struct {
	name   string
	req    req
	status int
	typ    string
	param  string
}

func hostileCases(t *testing.T) []hostileCase {
	withField := func(field string, raw string) string {
		return body(t, map[string]any{field: json.RawMessage(raw)})
	}
	inj := "\r\nSet-Cookie: session=attacker"
	logInj := "\n{\"level\":\"ERROR\",\"msg\":\"forged\"}"
	deep := `{"clientId":` + strings.Repeat("[", 8000) + strings.Repeat("]", 8000) + `}`
	cases := []hostileCase{
		{"body of 16 KiB + 1 byte", post(validBody + strings.Repeat(" ", 16<<10-len(validBody)+1)), 413, "request_too_large", ""},
		{"body of 1 MiB", post(strings.Repeat("{", 1<<20)), 413, "request_too_large", ""},
		{"base64 body of 10 MiB", req{method: "POST", headers: map[string]string{"content-type": "application/json"}, body: base64.StdEncoding.EncodeToString(make([]byte, 10<<20)), base64: true}, 413, "request_too_large", ""},
		{"arrays nested 8,000 deep in clientId", post(deep), 400, "invalid_request", "clientId"},
		{"duplicate clientId", post(`{"clientId":"5eb04fcd0f3e360008035eb1","clientId":"attacker","workflowTemplateId":"wt_123","successUrl":"https://app.example.com/done","cancelUrl":"https://app.example.com/cancel"}`), 400, "invalid_request", "clientId"},
		{"duplicate successUrl (first allowed, second not)", post(`{"clientId":"5eb04fcd0f3e360008035eb1","workflowTemplateId":"wt_123","successUrl":"https://app.example.com/done","successUrl":"https://evil.example/","cancelUrl":"https://app.example.com/cancel"}`), 400, "invalid_request", "successUrl"},
		{"duplicate key written with an escape", post(`{"clientId":"5eb04fcd0f3e360008035eb1","client\u0049d":"x","workflowTemplateId":"wt_123","successUrl":"https://app.example.com/done","cancelUrl":"https://app.example.com/cancel"}`), 400, "invalid_request", "clientId"},
		{"invalid UTF-8", req{method: "POST", headers: map[string]string{"content-type": "application/json"}, body: base64.StdEncoding.EncodeToString([]byte("{\"clientId\":\"\xc3\x28\"}")), base64: true}, 400, "invalid_request", ""},
		{"unpaired surrogate escape", post(`{"clientId":"\ud800"}`), 400, "invalid_request", ""},
		{"raw NUL byte", req{method: "POST", headers: map[string]string{"content-type": "application/json"}, body: base64.StdEncoding.EncodeToString([]byte("{\"clientId\":\"a\x00b\"}")), base64: true}, 400, "invalid_request", ""},
		{"escaped NUL in clientId", post(withField("clientId", `"abc\u0000def"`)), 400, "invalid_request", "clientId"},
		{"escaped NUL in successUrl", post(withField("successUrl", `"https://app.example.com/\u0000"`)), 400, "invalid_request", "successUrl"},
		{"number as the body", post(`42`), 400, "invalid_request", ""},
		{"an unknown field holding the key name", post(withField("apiKey", `"x"`)), 400, "invalid_request", "apiKey"},
		{"a __proto__ field", post(withField("__proto__", `{"admin":true}`)), 400, "invalid_request", "__proto__"},
		{"Content-Type with a second type", req{method: "POST", headers: map[string]string{"content-type": "application/json, text/html"}, body: validBody}, 415, "unsupported_media_type", ""},
		{"Content-Type text/json", req{method: "POST", headers: map[string]string{"content-type": "text/json"}, body: validBody}, 415, "unsupported_media_type", ""},
		{"method TRACE", req{method: "TRACE", headers: map[string]string{}}, 405, "method_not_allowed", ""},
		{"lower-case method post", req{method: "post", headers: map[string]string{"content-type": "application/json"}, body: validBody}, 200, "", ""},
		{"Origin with a newline", req{method: "POST", headers: map[string]string{"origin": allowed + "\r\nX-Injected: 1", "content-type": "application/json"}, body: validBody}, 403, "origin_not_allowed", ""},
		{"Origin null", req{method: "POST", headers: map[string]string{"origin": "null", "content-type": "application/json"}, body: validBody}, 403, "origin_not_allowed", ""},
		{"Origin as a suffix", req{method: "POST", headers: map[string]string{"origin": "https://evilapp.example.com", "content-type": "application/json"}, body: validBody}, 403, "origin_not_allowed", ""},
		{"Origin as a prefix", req{method: "POST", headers: map[string]string{"origin": allowed + ".evil.example", "content-type": "application/json"}, body: validBody}, 403, "origin_not_allowed", ""},
		{"Origin over http", req{method: "POST", headers: map[string]string{"origin": "http://app.example.com", "content-type": "application/json"}, body: validBody}, 403, "origin_not_allowed", ""},
		{"Origin with userinfo", req{method: "POST", headers: map[string]string{"origin": "https://app.example.com@evil.example", "content-type": "application/json"}, body: validBody}, 403, "origin_not_allowed", ""},
		{"two Origins", req{method: "POST", headers: map[string]string{"origin": allowed + ", https://evil.example", "content-type": "application/json"}, body: validBody}, 403, "origin_not_allowed", ""},
	}
	for _, field := range []string{"clientId", "workflowTemplateId", "successUrl", "cancelUrl", "theme", "supportEmail"} {
		v := "a"
		switch field {
		case "successUrl", "cancelUrl":
			v = "https://app.example.com/x"
		case "theme":
			v = "dark"
		case "supportEmail":
			v = "help@app.example.com"
		}
		q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
		cases = append(cases,
			hostileCase{"header injection in " + field, post(withField(field, q(v+inj))), 400, "invalid_request", field},
			hostileCase{"log injection in " + field, post(withField(field, q(v+logInj))), 400, "invalid_request", field},
		)
	}
	for _, field := range []string{"clientId", "workflowTemplateId", "successUrl", "cancelUrl", "theme", "supportEmail", "shortUrl"} {
		for _, wrong := range []string{`1`, `true`, `{}`, `["a","b"]`, `""`} {
			if field == "shortUrl" && wrong == `true` {
				continue
			}
			cases = append(cases, hostileCase{fmt.Sprintf("%s = %s", field, wrong), post(withField(field, wrong)), 400, "invalid_request", field})
		}
	}
	return cases
}

// TestHostileRequests runs the hostile-request table and checks the table
// in docs/hostile-requests.md still says what happens (UPDATE_DOCS=1
// rewrites it).
func TestHostileRequests(t *testing.T) {
	f := newFixture(t, fixtureOpts{secret: apiKey})
	var doc strings.Builder
	doc.WriteString("<!-- Written by TestHostileRequests (handler/hostile_test.go); UPDATE_DOCS=1 go test ./handler -run TestHostileRequests rewrites it. -->\n")
	doc.WriteString("| hostile request | status | type | param | ComplyCube called |\n|---|---|---|---|---|\n")
	cases := hostileCases(t)
	checkCountInDocs(t, len(cases))
	for _, c := range cases {
		before := len(f.cc.Calls())
		a := f.invoke(c.req)
		var e struct{ Type, Param string }
		json.Unmarshal([]byte(a.Body), &e)
		called := len(f.cc.Calls()) > before
		if a.Status != c.status || e.Type != c.typ || e.Param != c.param {
			t.Errorf("%s: got %d %s, want %d %s param %q", c.name, a.Status, a.Body, c.status, c.typ, c.param)
		}
		if called != (c.status == 200) {
			t.Errorf("%s: ComplyCube called = %v", c.name, called)
		}
		for k, v := range a.Headers {
			if strings.ContainsAny(k+v, "\r\n") {
				t.Errorf("%s: header %q: %q", c.name, k, v)
			}
		}
		fmt.Fprintf(&doc, "| %s | %d | %s | %s | %v |\n", c.name, a.Status, orDash(e.Type), orDash(e.Param), yesNo(called))
	}
	logs := f.logs.String()
	if strings.Contains(logs, "forged") || strings.Contains(logs, "attacker") {
		t.Error("a hostile field value reached the log")
	}
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		if !json.Valid([]byte(l)) {
			t.Errorf("log line is not one JSON object: %q", l)
		}
	}
	const path = "../docs/hostile-requests.md"
	if os.Getenv("UPDATE_DOCS") != "" {
		if err := os.WriteFile(path, []byte(doc.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	committed, err := os.ReadFile(path)
	if err != nil || string(committed) != doc.String() {
		t.Errorf("docs/hostile-requests.md is out of date: run UPDATE_DOCS=1 go test ./handler -run TestHostileRequests")
	}
}

// hostileCount finds "N hostile requests" in prose.
var hostileCount = regexp.MustCompile(`(\d+) hostile requests`)

// checkCountInDocs: docs/security.md and RELIABILITY.md say how many
// hostile requests the table holds; each must say it, and each mention must
// be the table's real count.
func checkCountInDocs(t *testing.T, n int) {
	t.Helper()
	for _, path := range []string{"../docs/security.md", "../RELIABILITY.md"} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		found := hostileCount.FindAllStringSubmatch(string(data), -1)
		if len(found) == 0 {
			t.Errorf("%s does not say how many hostile requests are tested (want %q)", path, fmt.Sprintf("%d hostile requests", n))
		}
		for _, m := range found {
			if m[1] != strconv.Itoa(n) {
				t.Errorf("%s says %q; the table has %d", path, m[0], n)
			}
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return "`" + s + "`"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
