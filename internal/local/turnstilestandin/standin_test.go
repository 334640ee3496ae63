package turnstilestandin

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/complycube-session/createsession/internal/testonly/testclock"
)

func startStandIn(t *testing.T, cfg Config) (*Handler, *httptest.Server) {
	t.Helper()
	h := New(cfg)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv
}

func TestScriptIsServed(t *testing.T) {
	_, srv := startStandIn(t, Config{})
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		req, _ := http.NewRequest(method, srv.URL+ScriptPath+"?render=explicit&onload=ready", nil)
		req.Header.Set("Origin", "http://127.0.0.1:8000")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", method, res.StatusCode)
		}
		for k, want := range map[string]string{
			"Content-Type":                     "text/javascript; charset=utf-8",
			"Cache-Control":                    "no-store",
			"Access-Control-Allow-Origin":      "*",
			"X-Content-Type-Options":           "nosniff",
			"Cross-Origin-Resource-Policy":     "cross-origin",
			"Access-Control-Allow-Credentials": "",
		} {
			if got := res.Header.Get(k); got != want {
				t.Errorf("%s: %s: %q, want %q", method, k, got, want)
			}
		}
		if method == http.MethodGet && !bytes.Equal(body, Script()) {
			t.Error("GET: body is not the script")
		}
	}
	for _, want := range []string{
		"Verify you are human (local stand-in for Cloudflare Turnstile)",
		"cf-turnstile-response", ".cf-turnstile", `"role", "checkbox"`, "aria-checked",
		`new URL("../token", scriptURL)`, "render: render", "reset: reset", "getResponse: getResponse",
	} {
		if !bytes.Contains(Script(), []byte(want)) {
			t.Errorf("the script lacks %q", want)
		}
	}
	// The script's relative token URL lands on TokenPath.
	base, _ := url.Parse("http://127.0.0.1:3000" + ScriptPath + "?render=explicit")
	if got := base.ResolveReference(&url.URL{Path: "../token"}).Path; got != TokenPath {
		t.Errorf("../token from the script is %s, want %s", got, TokenPath)
	}
}

// TestScriptParses runs node --check on the script.
func TestScriptParses(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is not installed (.ci/run installs it)")
		}
		t.Skip("node is not installed")
	}
	path := filepath.Join(t.TempDir(), "api.js")
	if err := os.WriteFile(path, Script(), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(node, "--check", path).CombinedOutput(); err != nil {
		t.Fatalf("node --check: %v\n%s", err, out)
	}
}

func postForm(t *testing.T, u string, form url.Values, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, body
}

func postJSON(t *testing.T, u string, v any) (*http.Response, []byte) {
	t.Helper()
	data, _ := json.Marshal(v)
	res, err := http.Post(u, "application/json", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, body
}

func decodeAnswer(t *testing.T, res *http.Response, body []byte) Answer {
	t.Helper()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, %s: %s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	var a Answer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if !bytes.Contains(body, []byte(`"error-codes":[`)) {
		t.Errorf("error-codes is not a list: %s", body)
	}
	return a
}

// takeToken asks the token endpoint as the widget does.
func takeToken(t *testing.T, srv *httptest.Server, origin, sitekey string) (status int, token string) {
	t.Helper()
	form := url.Values{"sitekey": {sitekey}, "hostname": {"form.example"}}
	res, body := postForm(t, srv.URL+TokenPath, form, map[string]string{"Origin": origin})
	if res.Header.Get("Access-Control-Allow-Origin") != "*" || res.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("token answer's CORS headers: %v", res.Header)
	}
	var a tokenAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if res.StatusCode == http.StatusOK && a.ExpiresIn != 300 {
		t.Errorf("expiresIn %d", a.ExpiresIn)
	}
	return res.StatusCode, a.Token
}

func TestSiteverifyFormAndJSON(t *testing.T) {
	clk := testclock.At(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	h, srv := startStandIn(t, Config{Secret: "dev-secret", Now: clk.Now})
	if h.Secret() != "dev-secret" {
		t.Fatalf("secret %q", h.Secret())
	}
	verify := srv.URL + SiteverifyPath

	status, tok := takeToken(t, srv, "http://127.0.0.1:8000", DefaultSiteKey)
	if status != http.StatusOK || tok == "" {
		t.Fatalf("token: %d %q", status, tok)
	}
	form := url.Values{"secret": {"dev-secret"}, "response": {tok}, "remoteip": {"127.0.0.1"}, "idempotency_key": {key1}}
	checkAnswer(t, "form", siteverifyForm(t, verify, form), true, "127.0.0.1")
	checkAnswer(t, "form, idempotent retry", siteverifyForm(t, verify, form), true, "127.0.0.1")
	checkAnswer(t, "JSON, reuse", siteverifyJSON(t, verify, map[string]string{"secret": "dev-secret", "response": tok}), false, "", CodeTimeoutOrDuplicate)

	tok2 := h.Issue("localhost")
	checkAnswer(t, "JSON, wrong secret", siteverifyJSON(t, verify, map[string]string{"secret": DefaultSecret, "response": tok2}), false, "", CodeInvalidSecret)
	checkAnswer(t, "JSON, test secret not configured", siteverifyJSON(t, verify, map[string]string{"secret": TestSecretPass, "response": tok2}), false, "", CodeInvalidSecret)
	checkAnswer(t, "JSON", siteverifyJSON(t, verify, map[string]string{"secret": "dev-secret", "response": tok2, "remoteip": "::1"}), true, "localhost")

	tok3 := h.Issue("localhost")
	clk.Advance(TokenTTL + time.Second)
	checkAnswer(t, "expired", siteverifyForm(t, verify, url.Values{"secret": {"dev-secret"}, "response": {tok3}}), false, "", CodeTimeoutOrDuplicate)

	checkAnswer(t, "JSON, not strings", siteverifyJSON(t, verify, map[string]any{"secret": "dev-secret", "response": 5}), false, "", CodeBadRequest)
	res, err := http.Post(verify, "application/json", strings.NewReader("{"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	checkAnswer(t, "JSON, broken", decodeAnswer(t, res, body), false, "", CodeBadRequest)
	res, err = http.Post(verify, "application/x-www-form-urlencoded", strings.NewReader("secret=dev-secret&response="+strings.Repeat("a", MaxBodyBytes)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	checkAnswer(t, "body too large", decodeAnswer(t, res, body), false, "", CodeBadRequest)

	res, err = http.Get(verify)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET siteverify: %d", res.StatusCode)
	}
}

func siteverifyForm(t *testing.T, u string, form url.Values) Answer {
	t.Helper()
	res, body := postForm(t, u, form, nil)
	return decodeAnswer(t, res, body)
}

func siteverifyJSON(t *testing.T, u string, v any) Answer {
	t.Helper()
	res, body := postJSON(t, u, v)
	return decodeAnswer(t, res, body)
}

func TestDefaultSecret(t *testing.T) {
	h, srv := startStandIn(t, Config{})
	if h.Secret() != DefaultSecret {
		t.Fatalf("secret %q", h.Secret())
	}
	tok := h.Issue("localhost")
	checkAnswer(t, "default secret", siteverifyForm(t, srv.URL+SiteverifyPath, url.Values{"secret": {DefaultSecret}, "response": {tok}}), true, "localhost")
}

func TestTokenEndpoint(t *testing.T) {
	h, srv := startStandIn(t, Config{})
	verify := func(tok string) Answer {
		return h.Verifier().Verify(Query{Secret: h.Secret(), Response: tok})
	}
	// The browser's Origin names the host; the form's field only stands in
	// when there is none.
	_, tok := takeToken(t, srv, "http://127.0.0.1:8000", DefaultSiteKey)
	checkAnswer(t, "origin", verify(tok), true, "127.0.0.1")
	_, tok = takeToken(t, srv, "https://Site.Example", "any-key")
	checkAnswer(t, "origin, no port", verify(tok), true, "Site.Example")
	_, tok = takeToken(t, srv, "", DefaultSiteKey)
	checkAnswer(t, "no origin", verify(tok), true, "form.example")
	_, tok = takeToken(t, srv, "null", DefaultSiteKey)
	checkAnswer(t, "opaque origin", verify(tok), true, "form.example")

	// Cloudflare's test site keys.
	status, tok := takeToken(t, srv, "http://127.0.0.1:8000", TestSiteKeyPass)
	if status != http.StatusOK || tok != DummyToken {
		t.Errorf("test site key that passes: %d %q", status, tok)
	}
	checkAnswer(t, "dummy token, real secret", verify(tok), false, "", CodeInvalidResponse)
	if status, tok := takeToken(t, srv, "http://127.0.0.1:8000", TestSiteKeyBlock); status != http.StatusForbidden || tok != "" {
		t.Errorf("test site key that blocks: %d %q", status, tok)
	}

	// No hostname at all.
	res, _ := postForm(t, srv.URL+TokenPath, url.Values{"sitekey": {"k"}}, nil)
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("no hostname: %d", res.StatusCode)
	}
	res, _ = postForm(t, srv.URL+TokenPath, url.Values{"sitekey": {"k"}, "hostname": {"a b"}}, nil)
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("bad hostname: %d", res.StatusCode)
	}

	// A preflight is answered, without credentials.
	req, _ := http.NewRequest(http.MethodOptions, srv.URL+TokenPath, nil)
	req.Header.Set("Origin", "http://127.0.0.1:8000")
	req.Header.Set("Access-Control-Request-Method", "POST")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != "*" || res.Header.Get("Access-Control-Allow-Methods") != "POST" || res.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("preflight: %d %v", res.StatusCode, res.Header)
	}
}

func TestOtherPaths(t *testing.T) {
	_, srv := startStandIn(t, Config{})
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/turnstile/v0/other.js", 404},
		{"GET", "/", 404},
		{"POST", ScriptPath, 405},
		{"GET", TokenPath, 405},
	} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.status {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, res.StatusCode, c.status)
		}
	}
}
