package faketurnstile

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/complycube-session/createsession/internal/testonly/testclock"
)

const key = "0b3f6a52-8c1e-4d2a-9f1b-6e5d4c3b2a19"

func post(t *testing.T, client *http.Client, u string, form url.Values) (int, Answer, string) {
	t.Helper()
	res, err := client.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var a Answer
	json.Unmarshal(body, &a)
	return res.StatusCode, a, string(body)
}

func TestVerifiesLikeSiteverify(t *testing.T) {
	clk := testclock.At(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	s := Start(WithClock(clk.Now), WithSecret("mine"))
	defer s.Close()
	if s.Secret() != "mine" || !strings.HasSuffix(s.URL(), "/turnstile/v0/siteverify") {
		t.Fatalf("secret %q, URL %q", s.Secret(), s.URL())
	}
	c := http.DefaultClient
	tok := s.Issue("site.example")
	form := url.Values{"secret": {"mine"}, "response": {tok}, "remoteip": {"203.0.113.7"}, "idempotency_key": {key}}
	if _, a, body := post(t, c, s.URL(), form); !a.Success || a.Hostname != "site.example" {
		t.Fatalf("first: %s", body)
	}
	if _, a, body := post(t, c, s.URL(), form); !a.Success || a.Hostname != "site.example" {
		t.Errorf("idempotent retry: %s", body)
	}
	form.Del("idempotency_key")
	if _, a, body := post(t, c, s.URL(), form); a.Success || !slices.Equal(a.ErrorCodes, []string{"timeout-or-duplicate"}) {
		t.Errorf("reuse: %s", body)
	}
	old := s.Issue("site.example")
	clk.Advance(TokenTTL + time.Second)
	if _, a, body := post(t, c, s.URL(), url.Values{"secret": {"mine"}, "response": {old}}); a.Success || !slices.Equal(a.ErrorCodes, []string{"timeout-or-duplicate"}) {
		t.Errorf("expired: %s", body)
	}
	for secret, want := range map[string]string{"": "missing-input-secret", "other": "invalid-input-secret", Secret: "invalid-input-secret"} {
		if _, a, body := post(t, c, s.URL(), url.Values{"secret": {secret}, "response": {s.Issue("x")}}); a.Success || !slices.Equal(a.ErrorCodes, []string{want}) {
			t.Errorf("secret %q: %s", secret, body)
		}
	}
	if _, a, body := post(t, c, s.URL(), url.Values{"secret": {"mine"}}); a.Success || !slices.Equal(a.ErrorCodes, []string{"missing-input-response"}) {
		t.Errorf("no token: %s", body)
	}
	if _, a, body := post(t, c, s.URL(), url.Values{"secret": {PassSecret}, "response": {DummyToken}}); !a.Success || a.Hostname != TestHostname {
		t.Errorf("test secret: %s", body)
	}
	// JSON, too.
	res, err := c.Post(s.URL(), "application/json", strings.NewReader(`{"secret":"mine","response":"`+s.Issue("json.example")+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), `"success":true`) || !strings.Contains(string(body), `"hostname":"json.example"`) {
		t.Errorf("JSON: %s", body)
	}
	reqs := s.Requests()
	if len(reqs) != s.Calls() || len(reqs) != 10 {
		t.Fatalf("%d requests recorded, %d calls", len(reqs), s.Calls())
	}
	if r := reqs[0]; r.Method != "POST" || r.ContentType != "application/x-www-form-urlencoded" || r.Fields.Get("idempotency_key") != key || r.Fields.Get("remoteip") != "203.0.113.7" {
		t.Errorf("recorded %+v", r)
	}
	if r := reqs[9]; r.ContentType != "application/json" || r.Fields.Get("secret") != "mine" {
		t.Errorf("recorded JSON %+v", r)
	}
}

func TestFailureInjection(t *testing.T) {
	s := Start()
	defer s.Close()
	c := http.DefaultClient
	form := func() url.Values { return url.Values{"secret": {Secret}, "response": {s.Issue("site.example")}} }

	s.Fail(502, 2)
	for i := range 2 {
		if status, _, _ := post(t, c, s.URL(), form()); status != 502 {
			t.Errorf("call %d: %d, want 502", i, status)
		}
	}
	if status, a, body := post(t, c, s.URL(), form()); status != 200 || !a.Success {
		t.Errorf("after the failures: %d %s", status, body)
	}

	s.Garbage()
	if status, _, body := post(t, c, s.URL(), form()); status != 200 || !strings.HasPrefix(body, "<!DOCTYPE html>") {
		t.Errorf("garbage: %d %s", status, body)
	}
	s.Respond(200, `{"nope":1}`)
	if _, _, body := post(t, c, s.URL(), form()); body != `{"nope":1}` {
		t.Errorf("respond: %s", body)
	}
	s.Heal()
	s.Fail(500, -1)
	for range 3 {
		if status, _, _ := post(t, c, s.URL(), form()); status != 500 {
			t.Errorf("every call fails: %d", status)
		}
	}
	s.Heal()

	s.Hang(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", s.URL(), strings.NewReader(form().Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	begin := time.Now()
	if _, err := c.Do(req); err == nil {
		t.Error("a hanging call answered")
	}
	if took := time.Since(begin); took > 2*time.Second {
		t.Errorf("hang held the client %v", took)
	}
	s.Heal()
	if status, a, _ := post(t, c, s.URL(), form()); status != 200 || !a.Success {
		t.Error("not healed")
	}

	res, err := c.Get(strings.TrimSuffix(s.URL(), "siteverify") + "other")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("other path: %d", res.StatusCode)
	}
}

func TestTLS(t *testing.T) {
	s := Start(WithTLS())
	defer s.Close()
	if s.CertPool() == nil || !strings.HasPrefix(s.URL(), "https://") {
		t.Fatalf("URL %s", s.URL())
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.CertPool()}, ForceAttemptHTTP2: true}}
	if _, a, body := post(t, c, s.URL(), url.Values{"secret": {Secret}, "response": {s.Issue("site.example")}}); !a.Success {
		t.Errorf("over TLS: %s", body)
	}
	plain := Start()
	defer plain.Close()
	if plain.CertPool() != nil {
		t.Error("a cert pool without TLS")
	}
}
