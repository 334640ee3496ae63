package simulator_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func call(t *testing.T, srv *httptest.Server, path, body string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

var hex24 = regexp.MustCompile(`^[0-9a-f]{24}$`)

const person = `{"type":"person","email":"ada@example.com","personDetails":{"firstName":"Ada","lastName":"Lovelace"}}`

// TestCreateClient: POST /v1/clients, with and without the Node SDK's
// trailing slash, answers the client object with a 24-hex ID; a session
// for that client works.
func TestCreateClient(t *testing.T) {
	sim, srv := start(t)
	for _, path := range []string{"/v1/clients", "/v1/clients/"} {
		status, _, body := call(t, srv, path, person)
		var c struct{ ID, Type, Email, CreatedAt string }
		if err := json.Unmarshal([]byte(body), &c); err != nil || status != 200 || !hex24.MatchString(c.ID) || c.Type != "person" || c.Email != "ada@example.com" || c.CreatedAt == "" {
			t.Fatalf("%s: %d %s", path, status, body)
		}
		if _, ok := sim.Client(c.ID); !ok {
			t.Errorf("%s: the simulator does not know the client it created", path)
		}
		sess := strings.Replace(valid, "5eb04fcd0f3e360008035eb1", c.ID, 1)
		if status, _, body := call(t, srv, "/v1/flow/sessions/", sess); status != 200 || !strings.Contains(body, "redirectUrl") {
			t.Errorf("session for the new client through /v1/flow/sessions/: %d %s", status, body)
		}
	}
	status, _, body := call(t, srv, "/v1/clients", `{"type":"company","email":"ops@acme.example","companyDetails":{"name":"Acme Ltd"}}`)
	if status != 200 || !strings.Contains(body, `"companyDetails":{"name":"Acme Ltd"}`) {
		t.Errorf("company: %d %s", status, body)
	}
}

// TestCreateClientErrors: ComplyCube's 400 shape with the field's path.
func TestCreateClientErrors(t *testing.T) {
	_, srv := start(t)
	cases := []struct{ body, param string }{
		{`{"email":"a@example.com","personDetails":{"firstName":"A","lastName":"B"}}`, "type"},
		{`{"type":"robot","email":"a@example.com"}`, "type"},
		{`{"type":"person","personDetails":{"firstName":"A","lastName":"B"}}`, "email"},
		{`{"type":"person","email":"not-an-address","personDetails":{"firstName":"A","lastName":"B"}}`, "email"},
		{`{"type":"person","email":"a@example.com"}`, "personDetails"},
		{`{"type":"person","email":"a@example.com","personDetails":{"firstName":"A"}}`, "personDetails.lastName"},
		{`{"type":"company","email":"a@example.com","companyDetails":{}}`, "companyDetails.name"},
		{`{"type":"person","email":"a@example.com","personDetails":{"firstName":"A","lastName":"B"},"password":"x"}`, "password"},
	}
	for _, c := range cases {
		status, _, body := call(t, srv, "/v1/clients", c.body)
		var e struct{ Type, Message, Param string }
		json.Unmarshal([]byte(body), &e)
		if status != 400 || e.Type != "invalid_request" || e.Param != c.param || e.Message == "" {
			t.Errorf("%s: %d %s, want 400 invalid_request param %s", c.body, status, body, c.param)
		}
	}
}

// TestRateLimit: above the configured rate, 429 with ComplyCube's
// documented body and a Retry-After in whole seconds; under it again
// after that wait.
func TestRateLimit(t *testing.T) {
	sim, srv := start(t)
	sim.SetRateLimit(5)
	var limited int
	var retryAfter string
	for i := 0; i < 8; i++ {
		status, h, body := call(t, srv, "/v1/flow/sessions", valid)
		if status == 429 {
			limited++
			retryAfter = h.Get("Retry-After")
			if body != `{"type":"rate_limit_exceeded","message":"You have exceeded the rate limit prescribed to your plan"}` {
				t.Errorf("429 body %s", body)
			}
		}
	}
	if limited < 3 {
		t.Fatalf("%d of 8 immediate calls limited at 5/s; want at least 3", limited)
	}
	secs, err := strconv.Atoi(retryAfter)
	if err != nil || secs < 1 {
		t.Fatalf("Retry-After %q", retryAfter)
	}
	time.Sleep(time.Duration(secs) * time.Second)
	if status, _, body := call(t, srv, "/v1/flow/sessions", valid); status != 200 {
		t.Errorf("after Retry-After: %d %s", status, body)
	}
}

// TestFaultBodyIsDocumented: an injected 500 carries ComplyCube's own
// documented 500 body.
func TestFaultBodyIsDocumented(t *testing.T) {
	sim, srv := start(t)
	sim.SetFaults(1, 0)
	for i := 0; i < 20; i++ {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/flow/sessions", strings.NewReader(valid))
		req.Header.Set("Authorization", key)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			continue // an injected reset
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		status, body := res.StatusCode, string(b)
		if status == 500 {
			if body != `{"type":"internal_server_error","message":"An error has occurred, try your request again. If you still keep getting this error, please get in touch with Support."}` {
				t.Errorf("500 body %s", body)
			}
			return
		}
	}
	t.Error("no 500 in 20 calls at fault rate 1")
}

// TestCompleteSendsWebhook: Complete and Cancel send a webhook signed as
// ComplyCube signs them, then send the browser to successUrl or cancelUrl.
func TestCompleteSendsWebhook(t *testing.T) {
	type received struct {
		sig  string
		body []byte
	}
	got := make(chan received, 2)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- received{r.Header.Get("ComplyCube-Signature"), b}
	}))
	defer hook.Close()
	sim, srv := start(t)
	sim.SetWebhook(hook.URL+"/webhooks", "whsec_sim")
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for action, want := range map[string]struct{ location, typ, status string }{
		"complete": {"https://shop.example/ok", "workflow.session.completed", "completed"},
		"cancel":   {"https://shop.example/no", "workflow.session.cancelled", "cancelled"},
	} {
		_, body := post(t, srv, key, "application/json", valid)
		var ok struct{ RedirectURL string }
		json.Unmarshal([]byte(body), &ok)
		token := strings.TrimSuffix(strings.TrimPrefix(ok.RedirectURL, srv.URL+"/session/"), "?theme=light")
		res, err := noFollow.Get(srv.URL + "/session/" + token + "/" + action)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 303 || res.Header.Get("Location") != want.location {
			t.Errorf("%s: %d to %q", action, res.StatusCode, res.Header.Get("Location"))
		}
		r := <-got
		mac := hmac.New(sha256.New, []byte("whsec_sim"))
		mac.Write(r.body)
		if r.sig != hex.EncodeToString(mac.Sum(nil)) {
			t.Errorf("%s: signature %q does not match the body", action, r.sig)
		}
		var ev struct {
			ID, Type string
			Payload  struct{ ID, ClientID, Status string }
		}
		if json.Unmarshal(r.body, &ev); !strings.HasPrefix(ev.ID, "evt_") || ev.Type != want.typ || ev.Payload.ID != token || ev.Payload.ClientID != "5eb04fcd0f3e360008035eb1" || ev.Payload.Status != want.status {
			t.Errorf("%s: event %s", action, r.body)
		}
	}
	if sent, failed := sim.Webhooks(); sent != 2 || failed != 0 {
		t.Errorf("webhooks sent %d, failed %d", sent, failed)
	}
}
