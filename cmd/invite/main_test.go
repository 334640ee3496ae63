package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/complycube-session/createsession/handler/invitation"
	"github.com/complycube-session/createsession/internal/lambda/memstate"
	"github.com/complycube-session/createsession/internal/lambda/sessionfn"
	"github.com/complycube-session/createsession/internal/local/simulator"
	"github.com/complycube-session/createsession/internal/testonly/fakesecretsmanager"
	"github.com/complycube-session/createsession/internal/testonly/lambdaemu"
)

const (
	testKey    = "invite-test-key-0123456789abcdefghijklmnopqrstuv"
	otherKey   = "another-key-9876543210zyxwvutsrqponmlkjihgfedcba"
	client     = "5eb04fcd0f3e360008035eb1"
	simKey     = "test_invite_cmd"
	secretID   = "invite/complycube"
	siteOrigin = "https://www.example.com"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func invite(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, envOf(env), &out, &errOut, time.Now)
	return strings.TrimSpace(out.String()), err
}

// function is the create-session function, built by the real wiring, in
// invitation mode, with its secret in a fake Secrets Manager reached
// through the real SDK, calling the simulator.
func function(t *testing.T, invitationKey string) func(token string) (int, string) {
	t.Helper()
	sim := simulator.New("", simKey)
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	sim.SetPublicURL(simSrv.URL)
	sm := fakesecretsmanager.Start()
	t.Cleanup(sm.Close)
	sm.SetSecret(secretID, `{"apiKey":"`+simKey+`","invitationKey":"`+invitationKey+`"}`)
	awsEnv(t, sm.URL())
	cfg, err := sessionfn.LoadConfig(envOf(map[string]string{
		"COMPLYCUBE_SECRET_ID": secretID, "COMPLYCUBE_BASE_URL": simSrv.URL, "ALLOWED_ORIGINS": siteOrigin,
		"CLIENT_SOURCE": "invitation", "WORKFLOW_TEMPLATE_IDS": "wt_default,wt_other",
	}))
	if err != nil {
		t.Fatal(err)
	}
	cfg.AWS = lambdaemu.LoadAWS(t) // as FromEnv reads it; awsEnv set it
	fn, err := sessionfn.Build(context.Background(), cfg, memstate.New(), slog.New(slog.NewJSONHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return func(token string) (int, string) {
		body, _ := json.Marshal(map[string]string{"invitation": token, "successUrl": siteOrigin + "/done", "cancelUrl": siteOrigin + "/cancel"})
		ev, _ := json.Marshal(events.APIGatewayV2HTTPRequest{Version: "2.0", Body: string(body),
			Headers:        map[string]string{"content-type": "application/json", "origin": siteOrigin},
			RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST"}}})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := fn.Invoke(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		var r events.APIGatewayV2HTTPResponse
		json.Unmarshal(out, &r)
		return r.StatusCode, r.Body
	}
}

func awsEnv(t *testing.T, endpoint string) { lambdaemu.SetAWSEnv(t, endpoint) }

// TestFunctionAcceptsWhatInviteMints: a token from INVITATION_KEY, and one
// from the secret read through the real SDK, both open a session for the
// client; one minted with another key is refused.
func TestFunctionAcceptsWhatInviteMints(t *testing.T) {
	call := function(t, testKey)
	tok, err := invite(t, map[string]string{"INVITATION_KEY": testKey}, "-client", client)
	if err != nil {
		t.Fatal(err)
	}
	if status, body := call(tok); status != 200 || !strings.Contains(body, "redirectUrl") {
		t.Errorf("token from INVITATION_KEY: %d %s", status, body)
	}
	// The same key, read from the secret as an operator's machine would.
	fromSecret, err := invite(t, map[string]string{"COMPLYCUBE_SECRET_ID": secretID}, "-client", client, "-template", "wt_other", "-ttl", "1h")
	if err != nil {
		t.Fatal(err)
	}
	if status, body := call(fromSecret); status != 200 {
		t.Errorf("token from the secret: %d %s", status, body)
	}
	inv, err := invitation.Verify(fromSecret, []byte(testKey), time.Now())
	if err != nil || inv.WorkflowTemplateID != "wt_other" || time.Until(inv.ExpiresAt) > time.Hour {
		t.Errorf("claims %+v %v", inv, err)
	}
	forged, err := invite(t, map[string]string{"INVITATION_KEY": otherKey}, "-client", client)
	if err != nil {
		t.Fatal(err)
	}
	if status, body := call(forged); status != 400 || !strings.Contains(body, `"param":"invitation"`) {
		t.Errorf("token with another key: %d %s", status, body)
	}
	// A template off the function's list is refused like any bad token.
	offList, _ := invite(t, map[string]string{"INVITATION_KEY": testKey}, "-client", client, "-template", "wt_unlisted")
	if status, _ := call(offList); status != 400 {
		t.Errorf("token with an unlisted template: %d", status)
	}
}

// TestLink: -link prints the URL with the token in its query, keeping the
// URL's own query.
func TestLink(t *testing.T) {
	out, err := invite(t, map[string]string{"INVITATION_KEY": testKey}, "-client", client, "-link", "https://www.example.com/verify?lang=en")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(out)
	if err != nil || u.Host != "www.example.com" || u.Path != "/verify" || u.Query().Get("lang") != "en" {
		t.Fatalf("link %q", out)
	}
	if _, err := invitation.Verify(u.Query().Get("invitation"), []byte(testKey), time.Now()); err != nil {
		t.Errorf("the link's token: %v", err)
	}
}

// TestRefusals: what invite will not sign.
func TestRefusals(t *testing.T) {
	key := map[string]string{"INVITATION_KEY": testKey}
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no client", key, nil, "-client is required"},
		{"a ttl over 30 days", key, []string{"-client", client, "-ttl", "721h"}, "at most 720h"},
		{"a ttl of 0", key, []string{"-client", client, "-ttl", "0s"}, "above 0"},
		{"a malformed client", key, []string{"-client", "a b"}, "client ID"},
		{"a malformed template", key, []string{"-client", client, "-template", "wt/1"}, "workflow template ID"},
		{"a relative link", key, []string{"-client", client, "-link", "/verify"}, "absolute http(s) URL"},
		{"a link with a fragment", key, []string{"-client", client, "-link", "https://a.example/#x"}, "fragment"},
		{"no key", nil, []string{"-client", client}, "no signing key"},
		{"a short key", map[string]string{"INVITATION_KEY": "short"}, []string{"-client", client}, "shorter than 32 bytes"},
	}
	for _, c := range cases {
		out, err := invite(t, c.env, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) || out != "" {
			t.Errorf("%s: %q %v, want an error with %q", c.name, out, err, c.want)
		}
	}
	// A secret without invitationKey.
	sm := fakesecretsmanager.Start()
	defer sm.Close()
	sm.SetSecret(secretID, `{"apiKey":"test_x"}`)
	awsEnv(t, sm.URL())
	if _, err := invite(t, map[string]string{"COMPLYCUBE_SECRET_ID": secretID}, "-client", client); err == nil || !strings.Contains(err.Error(), "invitationKey") {
		t.Errorf("a secret without invitationKey: %v", err)
	}
	if _, err := invite(t, nil, "-h"); err != nil {
		t.Errorf("-h: %v", err)
	}
}
