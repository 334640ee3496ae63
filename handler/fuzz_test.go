package handler_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/complycube-session/createsession/handler"
	"github.com/complycube-session/createsession/handler/invitation"
	"github.com/complycube-session/createsession/internal/lambda/apigateway"
	"github.com/complycube-session/createsession/internal/lambda/emf"
	"github.com/complycube-session/createsession/internal/lambda/memstate"
	"github.com/complycube-session/createsession/internal/lambda/sessionfn"
)

// staticKeys is an in-memory Secrets: the API key it is, and
// fuzzInvitationKey.
type staticKeys string

// fuzzInvitationKey signs the fuzz targets' invitations.
var fuzzInvitationKey = []byte("fuzz-invitation-key-0123456789abcdef")

func (k staticKeys) Key(context.Context) (string, error) { return string(k), nil }
func (k staticKeys) Refresh(context.Context, string) (string, error) {
	return "", context.Canceled
}
func (k staticKeys) InvitationKey(context.Context) ([]byte, error) { return fuzzInvitationKey, nil }
func (k staticKeys) RefreshInvitationKey(context.Context, []byte) ([]byte, error) {
	return nil, context.Canceled
}
func (k staticKeys) HashKey(context.Context) ([]byte, error) { return []byte("hash-" + k), nil }

// cannedUpstream answers every call with one response.
type cannedUpstream struct {
	resp  handler.UpstreamResponse
	err   error
	calls int
}

func (c *cannedUpstream) CreateFlowSession(_ context.Context, key string, body []byte) (handler.UpstreamResponse, error) {
	c.calls++
	if !json.Valid(body) {
		panic("the handler sent ComplyCube a body that is not JSON")
	}
	r := c.resp
	r.Attempts = 1
	return r, c.err
}

// CreateClient answers a new client's ID.
func (c *cannedUpstream) CreateClient(_ context.Context, key string, body []byte) (handler.UpstreamResponse, error) {
	c.calls++
	if !json.Valid(body) {
		panic("the handler sent ComplyCube a client that is not JSON")
	}
	return handler.UpstreamResponse{Status: 200, Body: []byte(`{"id":"5eb04fcd0f3e360008035eb1"}`), Attempts: 1}, nil
}

func fuzzHandler(t testing.TB, up *cannedUpstream, origins string) apigateway.Lambda {
	return fuzzHandlerFor(t, up, origins, handler.SourceRequest)
}

func fuzzHandlerFor(t testing.TB, up *cannedUpstream, origins string, source handler.ClientSource) apigateway.Lambda {
	cfg, err := sessionfn.LoadConfig(func(k string) string {
		return map[string]string{"ALLOWED_ORIGINS": origins, "WORKFLOW_TEMPLATE_IDS": "", "CLIENT_SOURCE": string(source)}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	return apigateway.Lambda{Handler: handler.NewSessionStarter(cfg.Config, staticKeys(apiKey), up, memstate.New(), nil, emf.New(log, "", staticKeys(apiKey).HashKey)), Log: log, MaxBody: handler.MaxBodyBytes}
}

var allowedStatuses = map[int]bool{200: true, 204: true, 400: true, 403: true, 404: true, 405: true, 413: true, 415: true, 422: true, 429: true, 502: true, 503: true, 504: true}

// checkAnswer asserts what every answer must be, whatever the input.
func checkAnswer(t *testing.T, out []byte, err error) events.APIGatewayV2HTTPResponse {
	t.Helper()
	if err != nil {
		t.Fatalf("Lambda error: %v", err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("not an HTTP API response: %s", out)
	}
	if !allowedStatuses[resp.StatusCode] {
		t.Fatalf("status %d (body %s)", resp.StatusCode, resp.Body)
	}
	if resp.StatusCode == 204 {
		if resp.Body != "" {
			t.Fatalf("204 with a body")
		}
	} else if !json.Valid([]byte(resp.Body)) || resp.Headers["Content-Type"] != "application/json" {
		t.Fatalf("answer body is not JSON: %q", resp.Body)
	}
	if resp.Headers["Cache-Control"] != "no-store" {
		t.Fatal("no Cache-Control: no-store")
	}
	for k, v := range resp.Headers {
		if strings.ContainsAny(k+v, "\r\n\x00") {
			t.Fatalf("header %q: %q carries a line break", k, v)
		}
	}
	if strings.Contains(string(out), apiKey) {
		t.Fatal("the key is in the answer")
	}
	return resp
}

// fuzzSources are the client sources FuzzRequest runs under, by its
// source argument modulo 3.
var fuzzSources = []handler.ClientSource{handler.SourceRequest, handler.SourceSignup, handler.SourceInvitation}

// FuzzRequest feeds arbitrary methods, headers and bodies through event
// decoding and validation, under each client source. No input may panic,
// produce a Lambda error, a non-JSON answer, or a call to ComplyCube with
// a body that is not JSON; a 4xx calls nothing; a 200 made exactly the
// calls its source makes.
func FuzzRequest(f *testing.F) {
	now := time.Now()
	token, _ := invitation.Mint(fuzzInvitationKey, invitation.Claims{ClientID: "5eb04fcd0f3e360008035eb1", WorkflowTemplateID: "wt_1", ExpiresAt: now.Add(29 * 24 * time.Hour)}, now)
	invBody, _ := json.Marshal(map[string]string{"invitation": token, "successUrl": "https://app.example.com/done", "cancelUrl": "https://app.example.com/cancel"})
	f.Add("POST", "application/json", allowed, []byte(signupBody), false, uint8(1))
	f.Add("POST", "application/json", allowed, []byte(companyBody), false, uint8(1))
	f.Add("POST", "application/json", allowed, []byte(`{"client":{"type":"person","email":"a@b.example","personDetails":{"firstName":"A","lastName":"B","x":{}}},"workflowTemplateId":"w","successUrl":"https://app.example.com/","cancelUrl":"https://app.example.com/"}`), false, uint8(1))
	f.Add("POST", "application/json", allowed, invBody, false, uint8(2))
	f.Add("POST", "application/json", allowed, []byte(`{"invitation":"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.","workflowTemplateId":"w","successUrl":"https://app.example.com/","cancelUrl":"https://app.example.com/"}`), false, uint8(2))
	f.Add("POST", "application/json", allowed, []byte(validBody), false, uint8(0))
	f.Add("POST", "application/json; charset=utf-8", "", []byte(`{"clientId":"a","workflowTemplateId":"b","successUrl":["https://app.example.com/"],"cancelUrl":"https://app.example.com/x","theme":"dark","supportEmail":"a@b.example","shortUrl":true}`), false, uint8(0))
	f.Add("OPTIONS", "", allowed, []byte(nil), false, uint8(0))
	f.Add("POST", "application/json", "https://evil.example", []byte(validBody), false, uint8(0))
	f.Add("POST", "application/json", "", []byte(`eyJjbGllbnRJZCI6bnVsbH0=`), true, uint8(0))
	f.Add("POST", "application/json", "", []byte(`{"clientId":"x","clientId":"y"}`), false, uint8(0))
	f.Add("POST", "application/json", "", []byte(`{"successUrl":"https://app.example.com@evil.example/"}`), false, uint8(0))
	f.Add("POST", "application/json", "", []byte(strings.Repeat("[", 5000)), false, uint8(0))
	f.Add("POST", "text/plain", allowed, []byte("{}"), false, uint8(0))
	f.Add("GET", "", "null", []byte(""), false, uint8(0))
	f.Add("POST", "application/json", "", []byte("{\"clientId\":\"\xff\"}"), false, uint8(0))
	f.Fuzz(func(t *testing.T, method, contentType, origin string, body []byte, b64 bool, source uint8) {
		up := &cannedUpstream{resp: handler.UpstreamResponse{Status: 200, Body: []byte(`{"redirectUrl":"https://id.complycube.com/test_x"}`)}}
		src := fuzzSources[int(source)%len(fuzzSources)]
		l := fuzzHandlerFor(t, up, allowed, src)
		headers := map[string]string{"content-type": contentType}
		if origin != "" {
			headers["origin"] = origin
		}
		ev := events.APIGatewayV2HTTPRequest{Version: "2.0", Headers: headers, Body: string(body), IsBase64Encoded: b64,
			RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method}}}
		payload, _ := json.Marshal(ev)
		out, err := l.Invoke(context.Background(), payload)
		resp := checkAnswer(t, out, err)
		wantCalls := 1
		if src == handler.SourceSignup {
			wantCalls = 2 // the client, then the session
		}
		if resp.StatusCode == 200 && up.calls != wantCalls {
			t.Fatalf("200 with %d ComplyCube calls under %s", up.calls, src)
		}
		if resp.StatusCode >= 400 && resp.StatusCode < 500 && up.calls != 0 {
			t.Fatalf("%d after calling ComplyCube", resp.StatusCode)
		}
	})
}

// FuzzComplyCubeAnswer feeds arbitrary ComplyCube statuses, bodies and
// Retry-After values through the answer mapping.
func FuzzComplyCubeAnswer(f *testing.F) {
	f.Add(200, []byte(`{"redirectUrl":"https://id.complycube.com/test_x?theme=light"}`), "")
	f.Add(201, []byte(`{"redirectUrl":5}`), "")
	f.Add(400, []byte(`{"type":"invalid_request","message":"x","param":"clientId"}`), "")
	f.Add(404, []byte(`not json`), "")
	f.Add(429, []byte(`{}`), "5")
	f.Add(429, []byte(`{}`), "1\r\nSet-Cookie: a=b")
	f.Add(500, []byte(``), "")
	f.Add(302, []byte(``), "")
	f.Fuzz(func(t *testing.T, status int, body []byte, retryAfter string) {
		up := &cannedUpstream{resp: handler.UpstreamResponse{Status: status, Body: body, RetryAfter: retryAfter}}
		l := fuzzHandler(t, up, allowed)
		ev := events.APIGatewayV2HTTPRequest{Version: "2.0", Headers: map[string]string{"content-type": "application/json"}, Body: validBody,
			RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST"}}}
		payload, _ := json.Marshal(ev)
		out, err := l.Invoke(context.Background(), payload)
		resp := checkAnswer(t, out, err)
		if resp.StatusCode == 200 {
			var ok map[string]any
			json.Unmarshal([]byte(resp.Body), &ok)
			if len(ok) != 2 || ok["redirectUrl"] == "" || ok["statusToken"] == "" {
				t.Fatalf("200 answer is not just redirectUrl and statusToken: %s", resp.Body)
			}
		}
	})
}

// FuzzInvitationToken feeds arbitrary tokens to the verifier. None may
// panic, and one it accepts must carry a true HS256 signature by the key
// over its first two segments, a client ID and an expiry.
func FuzzInvitationToken(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	good, _ := invitation.Mint(fuzzInvitationKey, invitation.Claims{ClientID: "5eb04fcd0f3e360008035eb1", WorkflowTemplateID: "wt_1", ExpiresAt: now.Add(time.Hour)}, now)
	f.Add(good)
	parts := strings.Split(good, ".")
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add("eyJhbGciOiJub25lIn0." + parts[1] + ".")
	f.Add(good + "=")
	f.Add(strings.Repeat("a.", 3000))
	f.Fuzz(func(t *testing.T, token string) {
		inv, err := invitation.Verify(token, fuzzInvitationKey, now)
		if err != nil {
			if !errors.Is(err, invitation.ErrInvalid) {
				t.Fatalf("a refusal that is not ErrInvalidInvitation: %v", err)
			}
			return
		}
		segs := strings.Split(token, ".")
		if len(segs) != 3 || len(token) > invitation.MaxLength {
			t.Fatalf("accepted a token of %d segments, %d characters", len(segs), len(token))
		}
		mac := hmac.New(sha256.New, fuzzInvitationKey)
		mac.Write([]byte(segs[0] + "." + segs[1]))
		if base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) != segs[2] {
			t.Fatalf("accepted a token whose signature is not HS256 by the key: %q", token)
		}
		if inv.ClientID == "" || inv.ExpiresAt.IsZero() || inv.ExpiresAt.Before(now.Add(-invitation.ClockSkew)) {
			t.Fatalf("accepted %+v", inv)
		}
	})
}
