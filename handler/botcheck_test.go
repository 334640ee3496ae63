package handler_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/complycube-session/createsession/internal/testonly/faketurnstile"
)

// botFixture is a sign-up function with BOT_CHECK=turnstile, asking a fake
// siteverify through the real Turnstile adapter.
func botFixture(t *testing.T, secretJSON string) (*fixture, *faketurnstile.Server) {
	t.Helper()
	ts := faketurnstile.Start()
	t.Cleanup(ts.Close)
	if secretJSON == "" {
		secretJSON = `{"apiKey":"` + apiKey + `","turnstileSecretKey":"` + ts.Secret() + `"}`
	}
	f := newFixture(t, fixtureOpts{env: map[string]string{"CLIENT_SOURCE": "signup", "BOT_CHECK": "turnstile", "TURNSTILE_VERIFY_URL": ts.URL()},
		secret: secretJSON, replies: []http.HandlerFunc{signupReplies()}})
	return f, ts
}

// withBotToken adds turnstileToken to a sign-up body.
func withBotToken(body, token string) string {
	return strings.TrimSuffix(body, "}") + `,"turnstileToken":"` + token + `"}`
}

// allowedHost is the host of the allowed origin, where the page's widget
// runs.
var allowedHost = strings.TrimPrefix(allowed, "https://")

// TestBotCheck: a sign-up needs a token that Turnstile accepts, solved on
// an allowed origin's host, each once; every refusal comes before
// ComplyCube, and the token never reaches ComplyCube.
func TestBotCheck(t *testing.T) {
	f, ts := botFixture(t, "")
	tok := ts.Issue(allowedHost)
	a := f.invoke(signupWith(withBotToken(signupBody, tok), "198.51.100.90"))
	if a.Status != 200 {
		t.Fatalf("a good token: %d %s", a.Status, a.Body)
	}
	calls := f.cc.Calls()
	for _, c := range calls {
		if strings.Contains(string(c.Body), tok) || strings.Contains(string(c.Body), "turnstileToken") {
			t.Errorf("ComplyCube received the bot token: %s", c.Body)
		}
	}
	reqs := ts.Requests()
	if len(reqs) != 1 {
		t.Fatalf("siteverify asked %d times", len(reqs))
	}
	if fl := reqs[0].Fields; fl.Get("response") != tok || fl.Get("remoteip") != "198.51.100.90" || fl.Get("idempotency_key") == "" || fl.Get("secret") != ts.Secret() {
		t.Errorf("siteverify got %v", fl)
	}

	refusals := []struct {
		name, body string
		status     int
		errType    string
	}{
		{"the same token again", withBotToken(signupBody, tok), 403, "bot_check_failed"},
		{"a made-up token", withBotToken(signupBody, "XXXX.DUMMY.TOKEN.XXXX"), 403, "bot_check_failed"},
		{"a token solved on another site", withBotToken(signupBody, ts.Issue("evil.example")), 403, "bot_check_failed"},
		{"no token", signupBody, 400, "invalid_request"},
		{"a token over 2048 characters", withBotToken(signupBody, strings.Repeat("a", 2049)), 400, "invalid_request"},
	}
	for _, r := range refusals {
		before := len(f.cc.Calls())
		a := f.invoke(signupWith(r.body, "198.51.100.91"))
		if a.Status != r.status || !strings.Contains(a.Body, `"type":"`+r.errType+`"`) {
			t.Errorf("%s: %d %s", r.name, a.Status, a.Body)
		}
		if r.status == 400 && !strings.Contains(a.Body, `"param":"turnstileToken"`) {
			t.Errorf("%s: no param: %s", r.name, a.Body)
		}
		if len(f.cc.Calls()) != before {
			t.Errorf("%s reached ComplyCube", r.name)
		}
		if r.status == 403 {
			if line := f.lastRequestLine(); !strings.Contains(line, `"Reason":"bot"`) || !strings.Contains(line, `"SignupRefused":1`) {
				t.Errorf("%s: not counted as a bot refusal: %s", r.name, line)
			}
		}
	}
}

// TestBotCheckUnavailable: a siteverify that cannot be asked (5xx twice, a
// body that is not its JSON) or a secret without turnstileSecretKey is a
// 503 with Retry-After, never a sign-up let through.
func TestBotCheckUnavailable(t *testing.T) {
	f, ts := botFixture(t, "")
	ts.Fail(http.StatusInternalServerError, 2)
	a := f.invoke(signupWith(withBotToken(signupBody, ts.Issue(allowedHost)), "198.51.100.92"))
	if a.Status != 503 || a.header("Retry-After") == "" {
		t.Errorf("siteverify failing: %d %s", a.Status, a.Body)
	}
	ts.Heal()
	ts.Garbage()
	if a := f.invoke(signupWith(withBotToken(signupBody, ts.Issue(allowedHost)), "198.51.100.92")); a.Status != 503 {
		t.Errorf("siteverify answering garbage: %d %s", a.Status, a.Body)
	}
	if len(f.cc.Calls()) != 0 {
		t.Error("ComplyCube called without a bot verdict")
	}

	noKey, ts2 := botFixture(t, `{"apiKey":"`+apiKey+`"}`)
	if a := noKey.invoke(signupWith(withBotToken(signupBody, ts2.Issue(allowedHost)), "198.51.100.93")); a.Status != 503 {
		t.Errorf("no turnstileSecretKey: %d %s", a.Status, a.Body)
	}
	if ts2.Calls() != 0 {
		t.Error("siteverify asked without a secret key")
	}
}

// TestBotTokenOnlyWhereTaken: turnstileToken is a field of signup mode
// with the bot check only.
func TestBotTokenOnlyWhereTaken(t *testing.T) {
	f := newFixture(t, fixtureOpts{env: map[string]string{"CLIENT_SOURCE": "signup"}, secret: apiKey, replies: []http.HandlerFunc{signupReplies()}})
	if a := f.invoke(post(withBotToken(signupBody, "x"))); a.Status != 400 || !strings.Contains(a.Body, `"param":"turnstileToken"`) {
		t.Errorf("signup without the bot check: %d %s", a.Status, a.Body)
	}
	r := newFixture(t, fixtureOpts{secret: apiKey})
	if a := r.invoke(post(withBotToken(validBody, "x"))); a.Status != 400 || !strings.Contains(a.Body, `"param":"turnstileToken"`) {
		t.Errorf("request mode: %d %s", a.Status, a.Body)
	}
}

func signupWith(body, sourceIP string) req {
	r := post(body)
	r.sourceIP = sourceIP
	return r
}

// TestBotCheckKeyAddedAfterStart: an instance started before the operator
// put turnstileSecretKey into the secret picks it up (reading the secret
// at most once a second), and a rotated key is read again when siteverify
// refuses the old one: neither is ever a visitor's 403.
func TestBotCheckKeyAddedAfterStart(t *testing.T) {
	f, ts := botFixture(t, `{"apiKey":"`+apiKey+`"}`)
	if a := f.invoke(signupWith(withBotToken(signupBody, ts.Issue(allowedHost)), "198.51.100.94")); a.Status != 503 {
		t.Fatalf("before the key is there: %d %s", a.Status, a.Body)
	}
	f.sm.SetSecret(secretID, `{"apiKey":"`+apiKey+`","turnstileSecretKey":"stale-key"}`)
	time.Sleep(1100 * time.Millisecond)
	a := f.invoke(signupWith(withBotToken(signupBody, ts.Issue(allowedHost)), "198.51.100.94"))
	if a.Status != 503 || strings.Contains(a.Body, "bot_check_failed") {
		t.Fatalf("a key siteverify refuses: %d %s, want 503 (the operator's, not the visitor's)", a.Status, a.Body)
	}
	f.sm.SetSecret(secretID, `{"apiKey":"`+apiKey+`","turnstileSecretKey":"`+ts.Secret()+`"}`)
	time.Sleep(1100 * time.Millisecond)
	if a := f.invoke(signupWith(withBotToken(signupBody, ts.Issue(allowedHost)), "198.51.100.95")); a.Status != 200 {
		t.Errorf("after the rotation: %d %s", a.Status, a.Body)
	}
}
