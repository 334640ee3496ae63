package simulator_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/complycube-session/createsession/internal/local/simulator"
)

const key = "test_simulator_unit"

func start(t *testing.T) (*simulator.Simulator, *httptest.Server) {
	sim := simulator.New("", key)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	sim.SetPublicURL(srv.URL)
	return sim, srv
}

func post(t *testing.T, srv *httptest.Server, auth, contentType, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", srv.URL+"/v1/flow/sessions", strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	return res.StatusCode, string(b)
}

const valid = `{"clientId":"5eb04fcd0f3e360008035eb1","workflowTemplateId":"wt_1","successUrl":"https://shop.example/ok","cancelUrl":"https://shop.example/no"}`

// TestAPI pins the simulator to ComplyCube's documented behaviour: raw key
// in Authorization, the error shape with param, the 24-hex client ID.
func TestAPI(t *testing.T) {
	_, srv := start(t)
	withField := func(field, raw string) string {
		var m map[string]json.RawMessage
		json.Unmarshal([]byte(valid), &m)
		if raw == "" {
			delete(m, field)
		} else {
			m[field] = json.RawMessage(raw)
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	tests := []struct {
		name, auth, ct, body string
		status               int
		want                 string
	}{
		{"no Authorization", "", "application/json", valid, 401, `{"type":"unauthorized","message":"The 'Authorization' header is invalid"}`},
		{"Bearer prefix is not ComplyCube's scheme", "Bearer " + key, "application/json", valid, 401, `{"type":"unauthorized","message":"The 'Authorization' header is invalid"}`},
		{"wrong key", "test_other", "application/json", valid, 401, `{"type":"unauthorized","message":"The 'Authorization' header is invalid"}`},
		{"not JSON", key, "text/plain", valid, 400, `{"type":"invalid_request","message":"Content-Type must be application/json."}`},
		{"body not an object", key, "application/json", `[1]`, 400, `{"type":"invalid_request","message":"The body is not a JSON object."}`},
		{"clientId missing", key, "application/json", withField("clientId", ""), 400, `{"type":"invalid_request","message":"'clientId' is required","param":"clientId"}`},
		{"clientId upper case", key, "application/json", withField("clientId", `"5EB04FCD0F3E360008035EB1"`), 400, `{"type":"invalid_request","message":"'clientId' is invalid","param":"clientId"}`},
		{"clientId 23 characters", key, "application/json", withField("clientId", `"5eb04fcd0f3e360008035eb"`), 400, `{"type":"invalid_request","message":"'clientId' is invalid","param":"clientId"}`},
		{"clientId not hex", key, "application/json", withField("clientId", `"5eb04fcd0f3e360008035ebz"`), 400, `{"type":"invalid_request","message":"'clientId' is invalid","param":"clientId"}`},
		{"workflowTemplateId missing", key, "application/json", withField("workflowTemplateId", ""), 400, `{"type":"invalid_request","message":"'workflowTemplateId' is required","param":"workflowTemplateId"}`},
		{"successUrl missing", key, "application/json", withField("successUrl", ""), 400, `{"type":"invalid_request","message":"'successUrl' is required","param":"successUrl"}`},
		{"cancelUrl not a URL", key, "application/json", withField("cancelUrl", `"nope"`), 400, `{"type":"invalid_request","message":"'cancelUrl' is invalid","param":"cancelUrl"}`},
		{"theme unknown", key, "application/json", withField("theme", `"blue"`), 400, `{"type":"invalid_request","message":"'theme' is invalid","param":"theme"}`},
		{"shortUrl a string", key, "application/json", withField("shortUrl", `"yes"`), 400, `{"type":"invalid_request","message":"'shortUrl' is invalid","param":"shortUrl"}`},
		{"an older session field", key, "application/json", withField("checkTypes", `["document_check"]`), 400, `{"type":"invalid_request","message":"'checkTypes' is not allowed","param":"checkTypes"}`},
	}
	for _, tc := range tests {
		status, body := post(t, srv, tc.auth, tc.ct, tc.body)
		if status != tc.status || body != tc.want {
			t.Errorf("%s: got %d %s\nwant %d %s", tc.name, status, body, tc.status, tc.want)
		}
	}
	if res, _ := http.Get(srv.URL + "/v1/flow/sessions"); res.StatusCode != 405 {
		t.Errorf("GET: %d", res.StatusCode)
	}
}

func TestSessionAndHostedPage(t *testing.T) {
	sim, srv := start(t)
	status, body := post(t, srv, key, "application/json; charset=utf-8", strings.Replace(valid, `"wt_1"`, `"wt_1","theme":"dark","supportEmail":"help@shop.example"`, 1))
	var ok struct{ RedirectURL string }
	if status != 200 || json.Unmarshal([]byte(body), &ok) != nil {
		t.Fatalf("%d %s", status, body)
	}
	if !strings.HasPrefix(ok.RedirectURL, srv.URL+"/session/test_") || !strings.HasSuffix(ok.RedirectURL, "?theme=dark") {
		t.Fatalf("redirectUrl %q", ok.RedirectURL)
	}
	if sim.Requests() != 1 {
		t.Errorf("requests = %d", sim.Requests())
	}
	res, err := http.Get(ok.RedirectURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	token := strings.TrimSuffix(strings.TrimPrefix(ok.RedirectURL, srv.URL+"/session/"), "?theme=dark")
	for _, want := range []string{
		`id="client-id">5eb04fcd0f3e360008035eb1<`,
		// Complete and Cancel are buttons of POST forms, not links.
		`<form method="post" action="/session/` + token + `/complete"><button class="button primary" id="complete" type="submit">`,
		`<form method="post" action="/session/` + token + `/cancel"><button class="button secondary" id="cancel" type="submit">`,
		`id="theme">dark<`,
		`--bg:#0f141c`, // the dark palette
		`help@shop.example`,
	} {
		if !strings.Contains(string(page), want) {
			t.Errorf("hosted page lacks %q", want)
		}
	}
	if strings.Contains(string(page), "href=\"/session/") {
		t.Error("the hosted page still links to an action")
	}
	// The forms post to the page's origin, which redirects to successUrl
	// or cancelUrl: form-action allows both, and nothing else.
	if csp := res.Header.Get("Content-Security-Policy"); res.Header.Get("Cache-Control") != "no-store" || !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "form-action 'self' https://shop.example;") {
		t.Errorf("hosted page headers %v", res.Header)
	}
	req, _ := http.NewRequest(http.MethodPost, ok.RedirectURL, nil)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 405 || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST to the page itself: %v %v", res, err)
	}

	// shortUrl gives a shorter link; the light theme is the default.
	_, body = post(t, srv, key, "application/json", strings.Replace(valid, `"wt_1"`, `"wt_1","shortUrl":true`, 1))
	var short struct{ RedirectURL string }
	json.Unmarshal([]byte(body), &short)
	if len(short.RedirectURL) >= len(ok.RedirectURL)-1 || !strings.HasSuffix(short.RedirectURL, "?theme=light") {
		t.Errorf("short redirectUrl %q vs %q", short.RedirectURL, ok.RedirectURL)
	}

	if res, _ := http.Get(srv.URL + "/session/test_unknown"); res.StatusCode != 404 {
		t.Errorf("unknown session: %d", res.StatusCode)
	}
}

// TestHostedPageEscapes: the page never turns a stored URL into script.
func TestHostedPageEscapes(t *testing.T) {
	_, srv := start(t)
	body := strings.Replace(valid, `"https://shop.example/ok"`, `"https://shop.example/ok?\"><script>alert(1)</script>"`, 1)
	_, out := post(t, srv, key, "application/json", body)
	var ok struct{ RedirectURL string }
	json.Unmarshal([]byte(out), &ok)
	res, err := http.Get(ok.RedirectURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	if strings.Contains(string(page), "<script>alert(1)") {
		t.Error("the hosted page echoes markup unescaped")
	}
}
