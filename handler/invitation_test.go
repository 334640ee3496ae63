package handler_test

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/complycube-session/createsession/handler/invitation"
)

// Invitation keys of the suite; TestMain fails the run if either appears
// in a log line or an answer.
const (
	invitationKey        = "inv-key-Zm9yLXRlc3RzLW9ubHktbm90LWEtcmVhbC1rZXktMDEyMzQ1"
	rotatedInvitationKey = "inv-key-cm90YXRlZC1pbnZpdGF0aW9uLWtleS1mb3ItdGVzdHMtOTg3"
	invitedClient        = "5eb04fcd0f3e360008035eb1"
)

var invitationSecret = `{"apiKey":"` + apiKey + `","invitationKey":"` + invitationKey + `"}`

var invitationEnv = map[string]string{"CLIENT_SOURCE": "invitation", "WORKFLOW_TEMPLATE_IDS": "wt_default,wt_other"}

func invitationBody(token string) string {
	b, _ := json.Marshal(map[string]string{"invitation": token, "successUrl": "https://app.example.com/done", "cancelUrl": "https://app.example.com/cancel"})
	return string(b)
}

var b64 = base64.RawURLEncoding

// craft builds a compact JWT from raw header and claims JSON, signed by
// sign over "header.claims" (nil: no signature segment content).
func craft(header, claims string, sign func(input []byte) []byte) string {
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(claims))
	sig := []byte{}
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + b64.EncodeToString(sig)
}

func hs256(key string) func([]byte) []byte {
	return func(in []byte) []byte {
		m := hmac.New(sha256.New, []byte(key))
		m.Write(in)
		return m.Sum(nil)
	}
}

func hs384(key string) func([]byte) []byte {
	return func(in []byte) []byte {
		m := hmac.New(sha512.New384, []byte(key))
		m.Write(in)
		return m.Sum(nil)
	}
}

const hs256Header = `{"alg":"HS256","typ":"JWT"}`

// claimsJSON writes claims with times relative to now.
func claimsJSON(now time.Time, extra map[string]any) string {
	m := map[string]any{"sub": invitedClient, "iat": now.Unix(), "exp": now.Add(72 * time.Hour).Unix(), "aud": invitation.Audience}
	for k, v := range extra {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// TestInvitationSuccess: a valid token names the client; the body's
// template, the token's wft, or the configured default is used.
func TestInvitationSuccess(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name, token, bodyTemplate, wantTemplate string
		env                                     map[string]string
	}{
		{"minted by MintInvitation", mint(t, invitationKey, invitation.Claims{ClientID: invitedClient, ExpiresAt: now.Add(time.Hour)}), "", "wt_default", invitationEnv},
		{"the body's template, on the list", craft(hs256Header, claimsJSON(now, nil), hs256(invitationKey)), "wt_other", "wt_other", invitationEnv},
		{"the token's wft replaces the body's", craft(hs256Header, claimsJSON(now, map[string]any{"wft": "wt_other"}), hs256(invitationKey)), "wt_default", "wt_other", invitationEnv},
		{"no aud", craft(hs256Header, claimsJSON(now, map[string]any{"aud": nil}), hs256(invitationKey)), "", "wt_default", invitationEnv},
		{"aud as a one-item array", craft(hs256Header, claimsJSON(now, map[string]any{"aud": []string{invitation.Audience}}), hs256(invitationKey)), "", "wt_default", invitationEnv},
		{"no iat, exp in 30 days", craft(hs256Header, claimsJSON(now, map[string]any{"iat": nil, "exp": now.Add(30 * 24 * time.Hour).Unix()}), hs256(invitationKey)), "", "wt_default", invitationEnv},
		{"expired 10 s ago (30 s skew)", craft(hs256Header, claimsJSON(now, map[string]any{"exp": now.Add(-10 * time.Second).Unix()}), hs256(invitationKey)), "", "wt_default", invitationEnv},
		{"nbf 10 s ahead (30 s skew)", craft(hs256Header, claimsJSON(now, map[string]any{"nbf": now.Add(10 * time.Second).Unix()}), hs256(invitationKey)), "", "wt_default", invitationEnv},
		{"no template list: the token's wft", craft(hs256Header, claimsJSON(now, map[string]any{"wft": "wt_any"}), hs256(invitationKey)), "", "wt_any", map[string]string{"CLIENT_SOURCE": "invitation"}},
		{"no template list: the body's", craft(hs256Header, claimsJSON(now, nil), hs256(invitationKey)), "wt_body", "wt_body", map[string]string{"CLIENT_SOURCE": "invitation"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{env: c.env, secret: invitationSecret})
			var body map[string]string
			json.Unmarshal([]byte(invitationBody(c.token)), &body)
			if c.bodyTemplate != "" {
				body["workflowTemplateId"] = c.bodyTemplate
			}
			raw, _ := json.Marshal(body)
			a := f.invoke(post(string(raw)))
			checkCommon(t, a, allowed)
			if a.Status != 200 || a.Body != `{"redirectUrl":"`+sessionURL+`"}` {
				t.Fatalf("%d %s", a.Status, a.Body)
			}
			calls := f.cc.Calls()
			var sess map[string]any
			json.Unmarshal(calls[0].Body, &sess)
			if len(calls) != 1 || sess["clientId"] != invitedClient || sess["workflowTemplateId"] != c.wantTemplate || sess["invitation"] != nil {
				t.Errorf("ComplyCube got %s", calls[0].Body)
			}
			if l := f.lastRequestLog(); l["invitationClientId"] != invitedClient {
				t.Errorf("log line %v", l)
			}
		})
	}
	// The same link works more than once.
	f := newFixture(t, fixtureOpts{env: invitationEnv, secret: invitationSecret})
	token := craft(hs256Header, claimsJSON(now, nil), hs256(invitationKey))
	for i := 0; i < 3; i++ {
		if a := f.invoke(post(invitationBody(token))); a.Status != 200 {
			t.Errorf("use %d: %d %s", i+1, a.Status, a.Body)
		}
	}
}

func mint(t *testing.T, key string, inv invitation.Claims) string {
	t.Helper()
	tok, err := invitation.Mint([]byte(key), inv, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// hostileInvitations are tokens that must each be refused with the same
// answer and no ComplyCube call.
func hostileInvitations(t *testing.T) []struct{ name, token string } {
	now := time.Now()
	valid := craft(hs256Header, claimsJSON(now, nil), hs256(invitationKey))
	parts := strings.Split(valid, ".")
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
	rs256 := func(in []byte) []byte {
		d := sha256.Sum256(in)
		sig, _ := rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA256, d[:])
		return sig
	}
	otherClaims := b64.EncodeToString([]byte(claimsJSON(now, map[string]any{"sub": "5eb04fcd0f3e360008099999"})))
	signed := func(extra map[string]any) string {
		return craft(hs256Header, claimsJSON(now, extra), hs256(invitationKey))
	}
	return []struct{ name, token string }{
		{"alg none, no signature", craft(`{"alg":"none","typ":"JWT"}`, claimsJSON(now, nil), nil)},
		{"alg None", craft(`{"alg":"None","typ":"JWT"}`, claimsJSON(now, nil), nil)},
		{"alg none with the HS256 signature", craft(`{"alg":"none"}`, claimsJSON(now, nil), hs256(invitationKey))},
		{"alg HS384 with the right key", craft(`{"alg":"HS384","typ":"JWT"}`, claimsJSON(now, nil), hs384(invitationKey))},
		{"alg RS256, signed with an RSA key", craft(`{"alg":"RS256","typ":"JWT"}`, claimsJSON(now, nil), rs256)},
		{"alg missing", craft(`{"typ":"JWT"}`, claimsJSON(now, nil), hs256(invitationKey))},
		{"public-key confusion: RS256 header, HMAC with the public key", craft(`{"alg":"RS256","typ":"JWT"}`, claimsJSON(now, nil), hs256(pubPEM))},
		{"public-key confusion: HS256 with the public key as secret", craft(hs256Header, claimsJSON(now, nil), hs256(pubPEM))},
		{"signed with another key", craft(hs256Header, claimsJSON(now, nil), hs256("another-key-of-at-least-32-bytes-long!!"))},
		{"signed with the API key itself", craft(hs256Header, claimsJSON(now, nil), hs256(apiKey))},
		{"signature truncated", parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-4]},
		{"signature re-padded", valid + "="},
		{"signature empty", parts[0] + "." + parts[1] + "."},
		{"payload changed, old signature", parts[0] + "." + otherClaims + "." + parts[2]},
		{"expired", signed(map[string]any{"exp": now.Add(-time.Hour).Unix(), "iat": now.Add(-2 * time.Hour).Unix()})},
		{"expired 31 s ago (past the skew)", signed(map[string]any{"exp": now.Add(-31 * time.Second).Unix()})},
		{"exp missing", signed(map[string]any{"exp": nil})},
		{"exp a string", signed(map[string]any{"exp": "tomorrow"})},
		{"exp more than 30 days after iat", signed(map[string]any{"exp": now.Add(30*24*time.Hour + time.Hour).Unix()})},
		{"exp more than 30 days away, no iat", signed(map[string]any{"iat": nil, "exp": now.Add(31 * 24 * time.Hour).Unix()})},
		{"nbf in the future", signed(map[string]any{"nbf": now.Add(time.Hour).Unix()})},
		{"iat in the future", signed(map[string]any{"iat": now.Add(time.Hour).Unix(), "exp": now.Add(2 * time.Hour).Unix()})},
		{"sub missing", signed(map[string]any{"sub": nil})},
		{"sub malformed", signed(map[string]any{"sub": "5eb04fcd 0f3e36000803"})},
		{"sub a path", signed(map[string]any{"sub": "../clients"})},
		{"sub a number", signed(map[string]any{"sub": 12345})},
		{"aud wrong", signed(map[string]any{"aud": "another-service"})},
		{"aud with a second audience", signed(map[string]any{"aud": []string{invitation.Audience, "another-service"}})},
		{"wft not on the template allowlist", signed(map[string]any{"wft": "wt_not_listed"})},
		{"wft malformed", signed(map[string]any{"wft": "wt 1"})},
		{"two segments", parts[0] + "." + parts[1]},
		{"four segments", valid + "." + parts[2]},
		{"over 2048 characters", signed(map[string]any{"pad": strings.Repeat("x", 2048)})},
		{"invalid base64url in the payload", parts[0] + "." + strings.Replace(parts[1], parts[1][:1], "+", 1) + "." + parts[2]},
		{"standard base64 padding in the payload", parts[0] + "." + parts[1] + "==." + parts[2]},
		{"duplicate sub claim", craft(hs256Header, `{"sub":"`+invitedClient+`","sub":"5eb04fcd0f3e360008099999","exp":`+itoa(now.Add(time.Hour).Unix())+`}`, hs256(invitationKey))},
		{"duplicate alg in the header", craft(`{"alg":"HS256","alg":"none"}`, claimsJSON(now, nil), hs256(invitationKey))},
		{"header not JSON", b64.EncodeToString([]byte("HS256")) + "." + parts[1] + "." + parts[2]},
		{"claims an array", craft(hs256Header, `["`+invitedClient+`"]`, hs256(invitationKey))},
		{"empty string", ""},
		{"plain text", "let me in"},
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestHostileInvitations: each hostile token gets the one answer, which
// says nothing of which check failed, and ComplyCube is not called.
func TestHostileInvitations(t *testing.T) {
	f := newFixture(t, fixtureOpts{env: invitationEnv, secret: invitationSecret})
	want := errorBody("invalid_request", "'invitation' is not a valid invitation", "invitation")
	cases := hostileInvitations(t)
	if len(cases) < 25 {
		t.Fatalf("only %d hostile tokens", len(cases))
	}
	for _, c := range cases {
		a := f.invoke(post(invitationBody(c.token)))
		checkCommon(t, a, allowed)
		if a.Status != 400 || a.Body != want {
			t.Errorf("%s: got %d %s", c.name, a.Status, a.Body)
		}
	}
	// An invitation that is not a string at all.
	for _, raw := range []string{`12345`, `{"token":"x"}`, `["a.b.c"]`, `true`} {
		body := strings.Replace(invitationBody("X"), `"X"`, raw, 1)
		if a := f.invoke(post(body)); a.Status != 400 || a.Body != want {
			t.Errorf("invitation %s: got %d %s", raw, a.Status, a.Body)
		}
	}
	if n := len(f.cc.Calls()); n != 0 {
		t.Errorf("ComplyCube called %d times", n)
	}
	for _, l := range f.requestLogs() {
		if l["status"] == 400.0 && l["cause"] == nil {
			t.Errorf("a refused invitation's log line has no cause: %v", l)
		}
	}
}

// TestInvitationKeyRotation: a token signed with a rotated invitationKey
// is accepted without a restart: the failed signature reads the secret
// again, at most once a second however many tokens fail.
func TestInvitationKeyRotation(t *testing.T) {
	f := newFixture(t, fixtureOpts{env: invitationEnv, secret: invitationSecret})
	f.sm.SetSecret(secretID, `{"apiKey":"`+apiKey+`","invitationKey":"`+rotatedInvitationKey+`"}`)
	time.Sleep(1100 * time.Millisecond) // past the once-a-second rule since init
	token := craft(hs256Header, claimsJSON(time.Now(), nil), hs256(rotatedInvitationKey))
	if a := f.invoke(post(invitationBody(token))); a.Status != 200 {
		t.Fatalf("token with the rotated key: %d %s", a.Status, a.Body)
	}
	reads := len(f.sm.Requests())
	if reads != 2 {
		t.Errorf("%d secret reads, want 2 (init and after the failed signature)", reads)
	}
	// Forged tokens in a burst: the secret is read at most once a second.
	forged := craft(hs256Header, claimsJSON(time.Now(), nil), hs256("forger-key-forger-key-forger-key-!!"))
	for i := 0; i < 20; i++ {
		if a := f.invoke(post(invitationBody(forged))); a.Status != 400 {
			t.Fatalf("forged %d: %d %s", i, a.Status, a.Body)
		}
	}
	if n := len(f.sm.Requests()) - reads; n > 1 {
		t.Errorf("20 forged tokens within a second read the secret %d more times, want at most 1", n)
	}
	// The old key no longer signs.
	old := craft(hs256Header, claimsJSON(time.Now(), nil), hs256(invitationKey))
	if a := f.invoke(post(invitationBody(old))); a.Status != 400 {
		t.Errorf("token with the retired key: %d %s", a.Status, a.Body)
	}
}

// TestInvitationKeyUnavailable: a secret without invitationKey (or
// Secrets Manager down) is a 503, as for the API key; ComplyCube is not
// called.
func TestInvitationKeyUnavailable(t *testing.T) {
	for name, secret := range map[string]string{"no invitationKey": apiKey, "a short invitationKey": `{"apiKey":"` + apiKey + `","invitationKey":"short"}`} {
		f := newFixture(t, fixtureOpts{env: invitationEnv, secret: secret})
		token := craft(hs256Header, claimsJSON(time.Now(), nil), hs256(invitationKey))
		a := f.invoke(post(invitationBody(token)))
		if a.Status != 503 || a.header("Retry-After") == "" || !strings.Contains(a.Body, "service_unavailable") || len(f.cc.Calls()) != 0 {
			t.Errorf("%s: %d %s", name, a.Status, a.Body)
		}
	}
}

// TestInvitationValidation: the body's other rules in invitation mode.
func TestInvitationValidation(t *testing.T) {
	now := time.Now()
	token := craft(hs256Header, claimsJSON(now, nil), hs256(invitationKey))
	noList := map[string]string{"CLIENT_SOURCE": "invitation"}
	cases := []struct {
		name, body, param, message string
		env                        map[string]string
	}{
		{"no invitation", `{"successUrl":"https://app.example.com/done","cancelUrl":"https://app.example.com/cancel"}`, "invitation", "'invitation' is required", invitationEnv},
		{"clientId beside the invitation", strings.Replace(invitationBody(token), `{`, `{"clientId":"`+invitedClient+`",`, 1), "clientId", "'clientId' is not taken here: this endpoint names the person by 'invitation'", invitationEnv},
		{"client beside the invitation", strings.Replace(invitationBody(token), `{`, `{"client":{"type":"person"},`, 1), "client", "'client' is not taken here: this endpoint names the person by 'invitation'", invitationEnv},
		{"no template anywhere", invitationBody(token), "workflowTemplateId", "'workflowTemplateId' is required", noList},
		{"the body's template off the list", strings.Replace(invitationBody(token), `{`, `{"workflowTemplateId":"wt_nope",`, 1), "workflowTemplateId", "'workflowTemplateId' is not one this endpoint allows", invitationEnv},
		{"a bad successUrl", strings.Replace(invitationBody(token), "https://app.example.com/done", "javascript:alert(1)", 1), "successUrl", "'successUrl' must be an absolute https URL", invitationEnv},
	}
	for _, c := range cases {
		f := newFixture(t, fixtureOpts{env: c.env, secret: invitationSecret})
		a := f.invoke(post(c.body))
		if want := errorBody("invalid_request", c.message, c.param); a.Status != 400 || a.Body != want {
			t.Errorf("%s: got %d %s\n  want %s", c.name, a.Status, a.Body, want)
		}
		if len(f.cc.Calls()) != 0 {
			t.Errorf("%s: ComplyCube called", c.name)
		}
	}
}

// TestMintInvitationRules: the minting side refuses what the verifying
// side would.
func TestMintInvitationRules(t *testing.T) {
	now := time.Now()
	key := []byte(invitationKey)
	for name, inv := range map[string]invitation.Claims{
		"no client":          {ExpiresAt: now.Add(time.Hour)},
		"a malformed client": {ClientID: "a b", ExpiresAt: now.Add(time.Hour)},
		"over 30 days":       {ClientID: invitedClient, ExpiresAt: now.Add(31 * 24 * time.Hour)},
		"already expired":    {ClientID: invitedClient, ExpiresAt: now.Add(-time.Minute)},
		"a malformed wft":    {ClientID: invitedClient, WorkflowTemplateID: "wt/1", ExpiresAt: now.Add(time.Hour)},
	} {
		if _, err := invitation.Mint(key, inv, now); err == nil {
			t.Errorf("%s: minted", name)
		}
	}
	if _, err := invitation.Mint([]byte("short"), invitation.Claims{ClientID: invitedClient, ExpiresAt: now.Add(time.Hour)}, now); err == nil {
		t.Error("minted with a short key")
	}
	tok := mint(t, invitationKey, invitation.Claims{ClientID: invitedClient, WorkflowTemplateID: "wt_x", ExpiresAt: now.Add(time.Hour)})
	inv, err := invitation.Verify(tok, key, now)
	if err != nil || inv.ClientID != invitedClient || inv.WorkflowTemplateID != "wt_x" {
		t.Errorf("round trip: %+v %v", inv, err)
	}
	if _, err := invitation.Verify(tok, []byte(rotatedInvitationKey), now); err != invitation.ErrSignature {
		t.Errorf("another key: %v, want ErrInvitationSignature", err)
	}
}
