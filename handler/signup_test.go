package handler_test

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A person's data, which must reach ComplyCube and never a log line
// (TestMain checks every log line of the suite).
const (
	personEmail = "augusta.ada@lovelace.example"
	personFirst = "Augusta"
	personLast  = "Byron-Lovelace"
	companyName = "Analytical Engines Ltd"
)

// newClientID is what the fake ComplyCube answers to a client creation.
const newClientID = "64b0c0ffee0ddba11ca5cade"

const signupBody = `{"client":{"type":"person","email":"` + personEmail + `","personDetails":{"firstName":"` + personFirst + `","lastName":"` + personLast + `"}},"workflowTemplateId":"wt_123","successUrl":"https://app.example.com/done","cancelUrl":"https://app.example.com/cancel","theme":"dark"}`

const companyBody = `{"client":{"type":"company","email":"ops@engines.example","companyDetails":{"name":"` + companyName + `"}},"workflowTemplateId":"wt_123","successUrl":"https://app.example.com/done","cancelUrl":"https://app.example.com/cancel"}`

var signupEnv = map[string]string{"CLIENT_SOURCE": "signup"}

func clientCreated(id string) http.HandlerFunc {
	return reply(200, `{"id":"`+id+`","type":"person","email":"`+personEmail+`","createdAt":"2026-12-01T10:00:00.000Z","updatedAt":"2026-12-01T10:00:00.000Z"}`)
}

// TestSignupSuccess: the client is created with exactly the validated
// fields, then the session for it; the caller gets the redirectUrl only,
// never the client's ID, which the log line carries instead of the
// person's name and e-mail.
func TestSignupSuccess(t *testing.T) {
	cases := []struct {
		name, body, wantClient string
	}{
		{"person", signupBody, `{"type":"person","email":"` + personEmail + `","personDetails":{"firstName":"` + personFirst + `","lastName":"` + personLast + `"}}`},
		{"company", companyBody, `{"type":"company","email":"ops@engines.example","companyDetails":{"name":"` + companyName + `"}}`},
		{"null members count as absent", `{"client":{"type":"person","email":"` + personEmail + `","companyDetails":null,"personDetails":{"firstName":"` + personFirst + `","lastName":"` + personLast + `"}},"clientId":null,"workflowTemplateId":"wt_123","successUrl":"https://app.example.com/done","cancelUrl":"https://app.example.com/cancel","theme":"dark"}`, `{"type":"person","email":"` + personEmail + `","personDetails":{"firstName":"` + personFirst + `","lastName":"` + personLast + `"}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{env: signupEnv, secret: apiKey, replies: []http.HandlerFunc{clientCreated(newClientID), redirectOK(sessionURL)}})
			a := f.invoke(post(c.body))
			checkCommon(t, a, allowed)
			if a.Status != 200 || a.Body != `{"redirectUrl":"`+sessionURL+`"}` {
				t.Fatalf("%d %s", a.Status, a.Body)
			}
			calls := f.cc.Calls()
			if len(calls) != 2 || calls[0].Path != "/v1/clients" || calls[1].Path != "/v1/flow/sessions" {
				t.Fatalf("calls %v", callPaths(calls))
			}
			if string(calls[0].Body) != c.wantClient {
				t.Errorf("client body %s\nwant        %s", calls[0].Body, c.wantClient)
			}
			if calls[0].Header.Get("Authorization") != apiKey || calls[1].Header.Get("Authorization") != apiKey {
				t.Error("a call without the API key")
			}
			var sess map[string]any
			json.Unmarshal(calls[1].Body, &sess)
			if sess["clientId"] != newClientID || sess["workflowTemplateId"] != "wt_123" || sess["client"] != nil {
				t.Errorf("session body %s", calls[1].Body)
			}
			if strings.Contains(a.Body, newClientID) || strings.Contains(strings.Join(flatHeaders(a), " "), newClientID) {
				t.Error("the new client's ID reached the browser")
			}
			l := f.lastRequestLog()
			if l["createdClientId"] != newClientID || l["complycubeClientStatus"] != 200.0 || l["complycubeStatus"] != 200.0 || l["complycubeAttempts"] != 2.0 {
				t.Errorf("log line %v", l)
			}
			for _, pii := range []string{personEmail, personFirst, personLast, companyName, "ops@engines.example"} {
				if strings.Contains(f.logs.String(), pii) {
					t.Errorf("the log holds %q", pii)
				}
			}
		})
	}
}

func callPaths(calls []upstreamCall) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.Method+" "+c.Path)
	}
	return out
}

func flatHeaders(a answer) []string {
	var out []string
	for k, v := range a.Headers {
		out = append(out, k+": "+v)
	}
	return out
}

// TestSignupComplyCubeAnswers: ComplyCube's answers to the client call map
// as the contract's table says; the session call is made only after the
// client exists; a client creation is never sent twice.
func TestSignupComplyCubeAnswers(t *testing.T) {
	cases := []struct {
		name        string
		replies     []http.HandlerFunc
		status      int
		body        string // exact, when set
		typ         string // else the error type
		clientCalls int
		sessionCall bool
	}{
		{"client 400 passed through", []http.HandlerFunc{reply(400, `{"type":"invalid_request","message":"'email' is invalid","param":"email"}`)}, 400, `{"type":"invalid_request","message":"'email' is invalid","param":"email"}`, "", 1, false},
		{"client 404 passed through", []http.HandlerFunc{reply(404, `{"type":"resource_not_found","message":"x"}`)}, 404, `{"type":"resource_not_found","message":"x"}`, "", 1, false},
		{"client 422 passed through", []http.HandlerFunc{reply(422, `{"type":"unprocessable","message":"y"}`)}, 422, `{"type":"unprocessable","message":"y"}`, "", 1, false},
		{"client 429", []http.HandlerFunc{reply(429, `{"type":"rate_limit_exceeded","message":"You have exceeded the rate limit prescribed to your plan"}`, "Retry-After", "3")}, 429, "", "rate_limit_exceeded", 1, false},
		{"client 500 is not retried", []http.HandlerFunc{reply(500, `{"type":"internal_server_error","message":"e"}`), clientCreated(newClientID), redirectOK(sessionURL)}, 502, "", "upstream_error", 1, false},
		{"client 503 is not retried", []http.HandlerFunc{reply(503, ``), clientCreated(newClientID), redirectOK(sessionURL)}, 502, "", "upstream_error", 1, false},
		{"client 200 without id", []http.HandlerFunc{reply(200, `{"type":"person"}`)}, 502, "", "upstream_error", 1, false},
		{"client 200 with a number id", []http.HandlerFunc{reply(200, `{"id":12345}`)}, 502, "", "upstream_error", 1, false},
		{"client 200 with a malformed id", []http.HandlerFunc{reply(200, `{"id":"../../v1/clients"}`)}, 502, "", "upstream_error", 1, false},
		{"client 200 with an empty id", []http.HandlerFunc{reply(200, `{"id":""}`)}, 502, "", "upstream_error", 1, false},
		{"client 200 not JSON", []http.HandlerFunc{reply(200, `<html>`)}, 502, "", "upstream_error", 1, false},
		{"client 201 with id", []http.HandlerFunc{reply(201, `{"id":"`+newClientID+`"}`), redirectOK(sessionURL)}, 200, `{"redirectUrl":"` + sessionURL + `"}`, "", 1, true},
		{"client 302 is not followed", []http.HandlerFunc{reply(302, ``, "Location", "https://evil.example/")}, 502, "", "upstream_error", 1, false},
		{"session 400 after the client exists", []http.HandlerFunc{clientCreated(newClientID), reply(400, `{"type":"invalid_request","message":"'workflowTemplateId' is invalid","param":"workflowTemplateId"}`)}, 400, `{"type":"invalid_request","message":"'workflowTemplateId' is invalid","param":"workflowTemplateId"}`, "", 1, true},
		{"session 500 after the client exists", []http.HandlerFunc{clientCreated(newClientID), reply(500, ``), reply(500, ``)}, 502, "", "upstream_error", 1, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{env: signupEnv, secret: apiKey, replies: c.replies})
			a := f.invoke(post(signupBody))
			checkCommon(t, a, allowed)
			var e struct{ Type string }
			json.Unmarshal([]byte(a.Body), &e)
			if a.Status != c.status || (c.body != "" && a.Body != c.body) || (c.typ != "" && e.Type != c.typ) {
				t.Errorf("got %d %s, want %d %s%s", a.Status, a.Body, c.status, c.body, c.typ)
			}
			clientCalls, sessionCalls := 0, 0
			for _, call := range f.cc.Calls() {
				switch call.Path {
				case "/v1/clients":
					clientCalls++
				case "/v1/flow/sessions":
					sessionCalls++
				}
			}
			if clientCalls != c.clientCalls || (sessionCalls > 0) != c.sessionCall {
				t.Errorf("%d client calls, %d session calls; want %d and session %v", clientCalls, sessionCalls, c.clientCalls, c.sessionCall)
			}
			if strings.Contains(a.Body, newClientID) {
				t.Error("the new client's ID reached the browser")
			}
		})
	}
}

// TestSignupResetAfterRequestRead: ComplyCube read the whole client
// creation, then the connection was reset: the client may exist, so it is
// not created again; the caller gets 502.
func TestSignupResetAfterRequestRead(t *testing.T) {
	reset := func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	}
	f := newFixture(t, fixtureOpts{env: signupEnv, secret: apiKey, replies: []http.HandlerFunc{reset, clientCreated(newClientID), redirectOK(sessionURL)}})
	a := f.invoke(post(signupBody))
	if a.Status != 502 || !strings.Contains(a.Body, `"upstream_error"`) {
		t.Errorf("%d %s", a.Status, a.Body)
	}
	calls := f.cc.Calls()
	if len(calls) != 1 || calls[0].Path != "/v1/clients" || len(calls[0].Body) == 0 {
		t.Errorf("calls %v: want the one client creation, read whole, and nothing after it", callPaths(calls))
	}
}

// TestSignupClientTimeout: no answer to the client creation within
// UPSTREAM_TIMEOUT is a 504, not retried; the session is not attempted.
func TestSignupClientTimeout(t *testing.T) {
	f := newFixture(t, fixtureOpts{env: map[string]string{"CLIENT_SOURCE": "signup", "UPSTREAM_TIMEOUT": "200ms"}, secret: apiKey, replies: []http.HandlerFunc{hang, clientCreated(newClientID)}})
	a := f.invoke(post(signupBody))
	if a.Status != 504 || len(f.cc.Calls()) != 1 {
		t.Errorf("%d %s after %d calls", a.Status, a.Body, len(f.cc.Calls()))
	}
}

// TestSignupDeadlineCoversBothCalls: the client call and the session call
// share the invocation's deadline; the function answers its own 504 before
// Lambda would kill it.
func TestSignupDeadlineCoversBothCalls(t *testing.T) {
	slow := func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(600 * time.Millisecond)
		clientCreated(newClientID)(w, r)
	}
	f := newFixture(t, fixtureOpts{env: signupEnv, secret: apiKey, replies: []http.HandlerFunc{slow, hang}})
	start := time.Now()
	r := post(signupBody)
	r.timeout = 1500 * time.Millisecond
	a := f.invoke(r)
	if a.Status != 504 {
		t.Errorf("%d %s", a.Status, a.Body)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("answered after %v, past the invocation's 1.5 s", d)
	}
}

// TestSignupKeyRotation: a 401 on the client call re-reads the key and
// creates the client with the rotated one (a 401 created nothing).
func TestSignupKeyRotation(t *testing.T) {
	var f *fixture
	rotate := func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == rotatedKey {
			clientCreated(newClientID)(w, r)
			return
		}
		f.sm.SetSecret(secretID, `{"apiKey":"`+rotatedKey+`"}`)
		reply(401, `{"type":"unauthorized","message":"The 'Authorization' header is invalid"}`)(w, r)
	}
	f = newFixture(t, fixtureOpts{env: signupEnv, secret: apiKey, replies: []http.HandlerFunc{rotate, rotate, redirectOK(sessionURL)}})
	time.Sleep(1100 * time.Millisecond) // past the once-a-second rule since init
	a := f.invoke(post(signupBody))
	calls := f.cc.Calls()
	if a.Status != 200 || len(calls) != 3 || calls[1].Header.Get("Authorization") != rotatedKey || calls[2].Header.Get("Authorization") != rotatedKey {
		t.Fatalf("%d %s, calls %v", a.Status, a.Body, callPaths(calls))
	}
	if l := f.lastRequestLog(); l["keyRefreshed"] != true {
		t.Errorf("log line %v", l)
	}
}

// TestSignupValidation: every rule of the client's fields, its param the
// field's path; ComplyCube is not called.
func TestSignupValidation(t *testing.T) {
	withClient := func(client string) string {
		return `{"client":` + client + `,"workflowTemplateId":"wt_123","successUrl":"https://app.example.com/done","cancelUrl":"https://app.example.com/cancel"}`
	}
	person := func(first, last string) string {
		b, _ := json.Marshal(map[string]any{"type": "person", "email": "a@b.example", "personDetails": map[string]string{"firstName": first, "lastName": last}})
		return string(b)
	}
	cases := []struct{ name, body, param, message string }{
		{"no client", `{"workflowTemplateId":"wt_123","successUrl":"https://app.example.com/done","cancelUrl":"https://app.example.com/cancel"}`, "client", "'client' is required"},
		{"null client", withClient(`null`), "client", "'client' is required"},
		{"client a string", withClient(`"ada"`), "client", "'client' must be an object with type, email and personDetails or companyDetails"},
		{"clientId in signup mode", `{"clientId":"5eb04fcd0f3e360008035eb1","client":` + person("A", "B") + `,"successUrl":"https://app.example.com/done","cancelUrl":"https://app.example.com/cancel"}`, "clientId", "'clientId' is not taken here: this endpoint names the person by 'client'"},
		{"invitation in signup mode", `{"invitation":"x.y.z","client":` + person("A", "B") + `,"successUrl":"https://app.example.com/done","cancelUrl":"https://app.example.com/cancel"}`, "invitation", "'invitation' is not taken here: this endpoint names the person by 'client'"},
		{"type missing", withClient(`{"email":"a@b.example","personDetails":{"firstName":"A","lastName":"B"}}`), "client.type", "'client.type' is required"},
		{"type unknown", withClient(`{"type":"robot","email":"a@b.example"}`), "client.type", `'client.type' must be "person" or "company"`},
		{"type not a string", withClient(`{"type":1,"email":"a@b.example"}`), "client.type", `'client.type' must be "person" or "company"`},
		{"email missing", withClient(`{"type":"person","personDetails":{"firstName":"A","lastName":"B"}}`), "client.email", "'client.email' is required"},
		{"email with a display name", withClient(`{"type":"person","email":"Ada <a@b.example>","personDetails":{"firstName":"A","lastName":"B"}}`), "client.email", "'client.email' must be one e-mail address of at most 254 characters"},
		{"email of 255 characters", withClient(`{"type":"person","email":"` + strings.Repeat("a", 243) + `@b.example.com","personDetails":{"firstName":"A","lastName":"B"}}`), "client.email", "'client.email' must be one e-mail address of at most 254 characters"},
		{"two e-mail addresses", withClient(`{"type":"person","email":"a@b.example, c@d.example","personDetails":{"firstName":"A","lastName":"B"}}`), "client.email", "'client.email' must be one e-mail address of at most 254 characters"},
		{"personDetails missing", withClient(`{"type":"person","email":"a@b.example"}`), "client.personDetails", "'client.personDetails' is required"},
		{"personDetails a string", withClient(`{"type":"person","email":"a@b.example","personDetails":"Ada"}`), "client.personDetails", "'client.personDetails' must be an object"},
		{"companyDetails on a person", withClient(`{"type":"person","email":"a@b.example","personDetails":{"firstName":"A","lastName":"B"},"companyDetails":{"name":"X"}}`), "client.companyDetails", "'client.companyDetails' is not a field of a person"},
		{"personDetails on a company", withClient(`{"type":"company","email":"a@b.example","personDetails":{"firstName":"A","lastName":"B"}}`), "client.personDetails", "'client.personDetails' is not a field of a company"},
		{"firstName missing", withClient(`{"type":"person","email":"a@b.example","personDetails":{"lastName":"B"}}`), "client.personDetails.firstName", "'client.personDetails.firstName' is required"},
		{"firstName empty", withClient(person("", "B")), "client.personDetails.firstName", "'client.personDetails.firstName' must be 1 to 100 characters with a letter or digit, and no control, format, private-use or line-separator characters"},
		{"firstName only spaces", withClient(person("   ", "B")), "client.personDetails.firstName", "'client.personDetails.firstName' must be 1 to 100 characters with a letter or digit, and no control, format, private-use or line-separator characters"},
		{"lastName of 101 characters", withClient(person("A", strings.Repeat("é", 101))), "client.personDetails.lastName", "'client.personDetails.lastName' must be 1 to 100 characters with a letter or digit, and no control, format, private-use or line-separator characters"},
		{"lastName with a newline", withClient(person("A", "B\nC")), "client.personDetails.lastName", "'client.personDetails.lastName' must be 1 to 100 characters with a letter or digit, and no control, format, private-use or line-separator characters"},
		{"lastName with a NUL", withClient(person("A", "B\x00")), "client.personDetails.lastName", "'client.personDetails.lastName' must be 1 to 100 characters with a letter or digit, and no control, format, private-use or line-separator characters"},
		{"a zero-width space inside", withClient(person("A", "B\u200bC")), "client.personDetails.lastName", "'client.personDetails.lastName' must be 1 to 100 characters with a letter or digit, and no control, format, private-use or line-separator characters"},
		{"a right-to-left override", withClient(person("A\u202eB", "C")), "client.personDetails.firstName", "'client.personDetails.firstName' must be 1 to 100 characters with a letter or digit, and no control, format, private-use or line-separator characters"},
		{"a zero-width joiner only", withClient(person("\u200d", "B")), "client.personDetails.firstName", "'client.personDetails.firstName' must be 1 to 100 characters with a letter or digit, and no control, format, private-use or line-separator characters"},
		{"a line separator", withClient(person("A\u2028B", "C")), "client.personDetails.firstName", "'client.personDetails.firstName' must be 1 to 100 characters with a letter or digit, and no control, format, private-use or line-separator characters"},
		{"a paragraph separator", withClient(person("A", "B\u2029")), "client.personDetails.lastName", "'client.personDetails.lastName' must be 1 to 100 characters with a letter or digit, and no control, format, private-use or line-separator characters"},
		{"private use", withClient(person("A", "\ue000")), "client.personDetails.lastName", "'client.personDetails.lastName' must be 1 to 100 characters with a letter or digit, and no control, format, private-use or line-separator characters"},
		{"no letter or digit", withClient(person("A", "-- .")), "client.personDetails.lastName", "'client.personDetails.lastName' must be 1 to 100 characters with a letter or digit, and no control, format, private-use or line-separator characters"},
		{"a byte-order mark", withClient(person("\ufeffA", "B")), "client.personDetails.firstName", "'client.personDetails.firstName' must be 1 to 100 characters with a letter or digit, and no control, format, private-use or line-separator characters"},
		{"lastName a number", withClient(`{"type":"person","email":"a@b.example","personDetails":{"firstName":"A","lastName":7}}`), "client.personDetails.lastName", "'client.personDetails.lastName' must be 1 to 100 characters with a letter or digit, and no control, format, private-use or line-separator characters"},
		{"company name missing", withClient(`{"type":"company","email":"a@b.example","companyDetails":{}}`), "client.companyDetails.name", "'client.companyDetails.name' is required"},
		{"an unknown client field", withClient(`{"type":"person","email":"a@b.example","personDetails":{"firstName":"A","lastName":"B"},"dob":"1815-12-10"}`), "client.dob", "'client.dob' is not a field of a client"},
		{"an unknown personDetails field", withClient(`{"type":"person","email":"a@b.example","personDetails":{"firstName":"A","lastName":"B","dob":"1815-12-10"}}`), "client.personDetails.dob", "'client.personDetails.dob' is not a field of client.personDetails"},
		{"email given twice", withClient(`{"type":"person","email":"a@b.example","email":"evil@x.example","personDetails":{"firstName":"A","lastName":"B"}}`), "client.email", "'client.email' appears more than once"},
		{"lastName given twice", withClient(`{"type":"person","email":"a@b.example","personDetails":{"firstName":"A","lastName":"B","last\u004eame":"C"}}`), "client.personDetails.lastName", "'client.personDetails.lastName' appears more than once"},
	}
	f := newFixture(t, fixtureOpts{env: signupEnv, secret: apiKey})
	for _, c := range cases {
		a := f.invoke(post(c.body))
		if want := errorBody("invalid_request", c.message, c.param); a.Status != 400 || a.Body != want {
			t.Errorf("%s: got %d %s\n  want 400 %s", c.name, a.Status, a.Body, want)
		}
	}
	if n := len(f.cc.Calls()); n != 0 {
		t.Errorf("ComplyCube called %d times for invalid bodies", n)
	}
	// A name of exactly 100 characters, and one that is not ASCII, pass.
	f2 := newFixture(t, fixtureOpts{env: signupEnv, secret: apiKey, replies: []http.HandlerFunc{clientCreated(newClientID), redirectOK(sessionURL)}})
	if a := f2.invoke(post(withClient(person("Zoë", strings.Repeat("ñ", 100))))); a.Status != 200 {
		t.Errorf("100-character non-ASCII name: %d %s", a.Status, a.Body)
	}
}

// TestRequestModeRefusesOtherSources: in request mode (the default) a
// body that names the person another way is refused with its param.
func TestRequestModeRefusesOtherSources(t *testing.T) {
	f := newFixture(t, fixtureOpts{secret: apiKey})
	for field, raw := range map[string]string{"client": `{"type":"person"}`, "invitation": `"a.b.c"`} {
		body := strings.Replace(validBody, `{"clientId"`, `{"`+field+`":`+raw+`,"clientId"`, 1)
		a := f.invoke(post(body))
		if want := errorBody("invalid_request", "'"+field+"' is not taken here: this endpoint names the person by 'clientId'", field); a.Status != 400 || a.Body != want {
			t.Errorf("%s: %d %s", field, a.Status, a.Body)
		}
	}
	if len(f.cc.Calls()) != 0 {
		t.Error("ComplyCube called")
	}
}
