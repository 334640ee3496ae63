package simulator_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
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
