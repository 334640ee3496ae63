package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/complycube-session/createsession/handler/invitation"
	"github.com/complycube-session/createsession/internal/local/simulator"
	"github.com/complycube-session/createsession/internal/testonly/fakesecretsmanager"
	"github.com/complycube-session/createsession/internal/testonly/lambdaemu"
	"github.com/complycube-session/createsession/internal/testonly/syncbuf"
)

const (
	e2eInvitationKey        = "e2e-invitation-key-bmV2ZXItdG8tYmUtbG9nZ2Vk"
	e2eRotatedInvitationKey = "e2e-rotated-invitation-key-cm90YXRlZC1rZXk"
	e2eEmail                = "grace.hopper@navy.example"
	e2eLastName             = "Hopper-Murray"
	e2eKey                  = "test_ZTJlLWtleS1uZXZlci10by1iZS1sb2dnZWQ"
	e2eSecretID             = "e2e/complycube"
	e2eOrigin               = "https://shop.example.com"
)

// emulated is the real bootstrap under the Runtime Interface Emulator with
// a fake Secrets Manager and the ComplyCube simulator.
type emulated struct {
	t   *testing.T
	emu *lambdaemu.Emulator
	sm  *fakesecretsmanager.Server
	cc  *simulator.Simulator
}

// bootstrapPath is the emulator and the create-session bootstrap, built
// for this test (skipped under -short).
func bootstrapPath(t *testing.T) (rie, bootstrap string) {
	t.Helper()
	return lambdaemu.RIEForTest(t), lambdaemu.BuildFunctionForTest(t, "CreateSessionFunction")
}

func startEmulated(t *testing.T, rie, bootstrap string, extraEnv ...string) *emulated {
	t.Helper()
	e := &emulated{t: t, sm: fakesecretsmanager.Start()}
	t.Cleanup(e.sm.Close)
	e.cc = simulator.New("", e2eKey)
	ccSrv := httptest.NewServer(e.cc)
	t.Cleanup(ccSrv.Close)
	e.cc.SetPublicURL(ccSrv.URL)
	env := append(lambdaemu.AWSEnv(e.sm.URL()),
		"COMPLYCUBE_SECRET_ID="+e2eSecretID,
		"COMPLYCUBE_BASE_URL="+ccSrv.URL,
		"ALLOWED_ORIGINS="+e2eOrigin,
		"ALLOWED_REDIRECT_ORIGINS="+e2eOrigin+",http://127.0.0.1:1",
	)
	env = append(env, extraEnv...)
	emu, err := lambdaemu.Start(rie, bootstrap, env)
	if err != nil {
		t.Fatal(err)
	}
	e.emu = emu
	t.Cleanup(func() {
		emu.Stop()
		out := emu.Output()
		if strings.Contains(out, e2eKey) {
			t.Errorf("the API key appears in the emulator's output")
		}
		if t.Failed() {
			t.Logf("emulator output:\n%s", out)
		}
	})
	return e
}

func (e *emulated) invoke(method string, headers map[string]string, body string) events.APIGatewayV2HTTPResponse {
	e.t.Helper()
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: method + " /sessions", RawPath: "/sessions", Headers: headers, Body: body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: "/sessions"},
		},
	}
	payload, _ := json.Marshal(ev)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := e.emu.Invoke(ctx, payload)
	if err != nil {
		e.t.Fatalf("invoke: %v", err)
	}
	if strings.Contains(string(out), e2eKey) {
		e.t.Error("the API key appears in an answer")
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		e.t.Fatalf("not an HTTP API response: %s", out)
	}
	return resp
}

func body(clientID string) string {
	return `{"clientId":"` + clientID + `","workflowTemplateId":"wt_e2e","successUrl":"https://shop.example.com/ok","cancelUrl":"https://shop.example.com/no","theme":"dark"}`
}

var browser = map[string]string{"origin": e2eOrigin, "content-type": "application/json"}

// TestEmulator runs the real bootstrap under the Lambda Runtime Interface
// Emulator: success, validation error, preflight, ComplyCube's 400 passed
// through, and a Secrets Manager failure at init followed by recovery.
func TestEmulator(t *testing.T) {
	rie, bootstrap := bootstrapPath(t)

	t.Run("requests", func(t *testing.T) {
		e := startEmulated(t, rie, bootstrap)
		e.sm.SetSecret(e2eSecretID, `{"apiKey":"`+e2eKey+`"}`)

		r := e.invoke("POST", browser, body("5eb04fcd0f3e360008035eb1"))
		var ok struct{ RedirectURL string }
		json.Unmarshal([]byte(r.Body), &ok)
		if r.StatusCode != 200 || !strings.Contains(ok.RedirectURL, "/session/test_") || !strings.HasSuffix(ok.RedirectURL, "?theme=dark") {
			t.Fatalf("success: %d %s", r.StatusCode, r.Body)
		}
		if r.Headers["Access-Control-Allow-Origin"] != e2eOrigin || r.Headers["Cache-Control"] != "no-store" {
			t.Errorf("success headers: %v", r.Headers)
		}

		r = e.invoke("POST", browser, `{"clientId":"5eb04fcd0f3e360008035eb1","workflowTemplateId":"wt_e2e","successUrl":"https://evil.example/","cancelUrl":"https://shop.example.com/no"}`)
		if r.StatusCode != 400 || r.Body != `{"type":"invalid_request","message":"'successUrl' must point to an origin this endpoint allows","param":"successUrl"}` {
			t.Errorf("validation: %d %s", r.StatusCode, r.Body)
		}

		r = e.invoke("OPTIONS", map[string]string{"origin": e2eOrigin, "access-control-request-method": "POST"}, "")
		if r.StatusCode != 204 || r.Headers["Access-Control-Allow-Methods"] != "POST, OPTIONS" || r.Headers["Access-Control-Max-Age"] != "7200" || r.Body != "" {
			t.Errorf("preflight: %d %v %q", r.StatusCode, r.Headers, r.Body)
		}

		r = e.invoke("POST", browser, body("not-a-complycube-id"))
		if r.StatusCode != 400 || r.Body != `{"type":"invalid_request","message":"'clientId' is invalid","param":"clientId"}` {
			t.Errorf("ComplyCube 400: %d %q", r.StatusCode, r.Body)
		}
		if got := e.cc.Requests(); got != 2 {
			t.Errorf("simulator saw %d calls, want 2", got)
		}
		if n := len(e.sm.Requests()); n != 1 {
			t.Errorf("%d secret reads for 4 requests, want 1 (at init)", n)
		}
		if d, ok := e.emu.InitDuration(); !ok || d <= 0 || d > 5*time.Second {
			t.Errorf("INIT REPORT duration %v (found %v)", d, ok)
		}
		// The function's stdout reaches the emulator's output a moment after
		// the answer does.
		var logs []map[string]any
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if logs = functionLogs(t, e.emu.Output()); len(logs) >= 4 {
				break
			}
		}
		if len(logs) != 4 || logs[0]["coldStart"] != true || logs[1]["coldStart"] != false || logs[0]["requestId"] == "" {
			t.Errorf("request log lines: %v", logs)
		}
	})

	t.Run("secret unavailable at init, then back", func(t *testing.T) {
		e := startEmulated(t, rie, bootstrap)
		e.sm.SetSecret(e2eSecretID, e2eKey)
		e.sm.Fail(fakesecretsmanager.AccessDenied)
		r := e.invoke("POST", browser, body("5eb04fcd0f3e360008035eb1"))
		if r.StatusCode != 503 || r.Headers["Retry-After"] == "" || r.Body != `{"type":"service_unavailable","message":"The service is not available right now. Try again shortly."}` {
			t.Fatalf("while denied: %d %v %s", r.StatusCode, r.Headers, r.Body)
		}
		if strings.Contains(r.Body, e2eSecretID) {
			t.Error("the answer names the secret")
		}
		e.sm.Fail(nil)
		time.Sleep(1100 * time.Millisecond)
		r = e.invoke("POST", browser, body("5eb04fcd0f3e360008035eb1"))
		if r.StatusCode != 200 {
			t.Fatalf("after recovery: %d %s", r.StatusCode, r.Body)
		}
		if !waitForOutput(e.emu, "AccessDeniedException") {
			t.Error("the log does not say why the key could not be read")
		}
	})

	t.Run("signup", func(t *testing.T) {
		e := startEmulated(t, rie, bootstrap, "CLIENT_SOURCE=signup")
		e.sm.SetSecret(e2eSecretID, `{"apiKey":"`+e2eKey+`"}`)
		signup := `{"client":{"type":"person","email":"` + e2eEmail + `","personDetails":{"firstName":"Grace","lastName":"` + e2eLastName + `"}},"workflowTemplateId":"wt_e2e","successUrl":"https://shop.example.com/ok","cancelUrl":"https://shop.example.com/no"}`
		r := e.invoke("POST", browser, signup)
		if r.StatusCode != 200 || !strings.Contains(r.Body, "/session/test_") {
			t.Fatalf("signup: %d %s", r.StatusCode, r.Body)
		}
		rec := e.cc.Recorded()
		if len(rec) != 2 || rec[0].Path != "/v1/clients" || rec[1].Path != "/v1/flow/sessions" {
			t.Fatalf("simulator calls %v", rec)
		}
		var sess struct{ ClientID string }
		json.Unmarshal(rec[1].Body, &sess)
		if c, ok := e.cc.Client(sess.ClientID); !ok || c.Email != e2eEmail {
			t.Errorf("the session is for %q, not the new client", sess.ClientID)
		}
		if strings.Contains(r.Body, sess.ClientID) {
			t.Error("the new client's ID reached the browser")
		}
		// An address the function refuses itself (no dot in the domain):
		// its own 400, and ComplyCube is not called.
		r = e.invoke("POST", browser, strings.Replace(signup, e2eEmail, "grace@localhost", 1))
		if r.StatusCode != 400 || r.Body != `{"type":"invalid_request","message":"'client.email' must be one e-mail address of at most 254 characters","param":"client.email"}` {
			t.Errorf("the function's own 400: %d %s", r.StatusCode, r.Body)
		}
		// An address ComplyCube refuses: its 400 on the client call passed
		// through byte for byte, and no session is attempted.
		e.cc.SetRejectEmails("@reject.example")
		r = e.invoke("POST", browser, strings.Replace(signup, e2eEmail, "grace@reject.example", 1))
		if r.StatusCode != 400 || r.Body != `{"type":"invalid_request","message":"'email' is invalid","param":"email"}` {
			t.Errorf("ComplyCube's 400 on the client call: %d %s", r.StatusCode, r.Body)
		}
		if n := len(e.cc.Recorded()); n != 3 {
			t.Errorf("%d simulator calls, want 3 (no session after the refused client)", n)
		}
		if waitForOutput(e.emu, e2eEmail) || waitForOutput(e.emu, e2eLastName) {
			t.Error("the person's e-mail or name is in the function's output")
		}
	})

	t.Run("invitation", func(t *testing.T) {
		e := startEmulated(t, rie, bootstrap, "CLIENT_SOURCE=invitation", "WORKFLOW_TEMPLATE_IDS=wt_e2e")
		e.sm.SetSecret(e2eSecretID, `{"apiKey":"`+e2eKey+`","invitationKey":"`+e2eInvitationKey+`"}`)
		now := time.Now()
		invite := func(key string) string {
			tok, err := invitation.Mint([]byte(key), invitation.Claims{ClientID: "5eb04fcd0f3e360008035eb1", ExpiresAt: now.Add(time.Hour)}, now)
			if err != nil {
				t.Fatal(err)
			}
			return `{"invitation":"` + tok + `","successUrl":"https://shop.example.com/ok","cancelUrl":"https://shop.example.com/no"}`
		}
		if r := e.invoke("POST", browser, invite(e2eInvitationKey)); r.StatusCode != 200 || !strings.Contains(r.Body, "/session/test_") {
			t.Fatalf("invitation: %d %s", r.StatusCode, r.Body)
		}
		if r := e.invoke("POST", browser, invite(e2eRotatedInvitationKey)); r.StatusCode != 400 || r.Body != `{"type":"invalid_request","message":"'invitation' is not a valid invitation","param":"invitation"}` {
			t.Errorf("forged invitation: %d %s", r.StatusCode, r.Body)
		}
		calls := e.cc.Requests()
		// The operator rotates the invitationKey; the running instance picks
		// it up at the first token it cannot verify, without a restart.
		e.sm.SetSecret(e2eSecretID, `{"apiKey":"`+e2eKey+`","invitationKey":"`+e2eRotatedInvitationKey+`"}`)
		time.Sleep(1100 * time.Millisecond) // past the once-a-second rule
		if r := e.invoke("POST", browser, invite(e2eRotatedInvitationKey)); r.StatusCode != 200 {
			t.Errorf("rotated invitationKey: %d %s", r.StatusCode, r.Body)
		}
		if e.cc.Requests() != calls+1 {
			t.Errorf("simulator calls %d, want %d", e.cc.Requests(), calls+1)
		}
		if strings.Contains(e.emu.Output(), e2eInvitationKey) || strings.Contains(e.emu.Output(), e2eRotatedInvitationKey) {
			t.Error("an invitation key is in the function's output")
		}
	})

	t.Run("configuration error stops the function at start", func(t *testing.T) {
		e := startEmulated(t, rie, bootstrap, "UPSTREAM_TIMEOUT=five seconds")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := e.emu.Invoke(ctx, []byte(`{"version":"2.0"}`))
		if err == nil && !strings.Contains(string(out), "Runtime.ExitError") {
			t.Errorf("the function answered despite a bad configuration: %s", out)
		}
		if !waitForOutput(e.emu, `"level":"ERROR"`, `"variable":"UPSTREAM_TIMEOUT"`) {
			t.Error("no error log line naming UPSTREAM_TIMEOUT")
		}
	})
}

// waitForOutput waits up to 3 s for a line of the emulator's output that
// holds every part.
func waitForOutput(emu *lambdaemu.Emulator, parts ...string) bool {
	return syncbuf.WaitForLine(emu.Output, 3*time.Second, parts...)
}

// functionLogs returns the function's per-request JSON log lines.
func functionLogs(t *testing.T, out string) []map[string]any {
	var lines []map[string]any
	for _, l := range strings.Split(out, "\n") {
		i := strings.Index(l, `{"time"`)
		if i < 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l[i:]), &m); err != nil {
			t.Errorf("log line is not JSON: %q", l)
			continue
		}
		if m["msg"] == "request" {
			lines = append(lines, m)
		}
	}
	return lines
}

func TestMain(m *testing.M) {
	os.Exit(m.Run())
}
