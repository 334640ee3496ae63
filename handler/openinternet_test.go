package handler_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/complycube-session/createsession/handler/invitation"
	"github.com/complycube-session/createsession/handler/state"
	"github.com/complycube-session/createsession/internal/lambda/memstate"
	"github.com/complycube-session/createsession/internal/testonly/emfcheck"
)

// signupFrom is a sign-up for email from sourceIP, with headers that try
// to name another address (they must be ignored).
func signupFrom(sourceIP, email string) req {
	r := post(strings.Replace(signupBody, personEmail, email, 1))
	r.sourceIP = sourceIP
	r.headers["x-forwarded-for"] = "192.0.2." + strconv.Itoa(len(email)%250)
	r.headers["x-real-ip"] = "192.0.2.99"
	return r
}

func signupFixture(t *testing.T, env map[string]string) *fixture {
	t.Helper()
	all := map[string]string{"CLIENT_SOURCE": "signup"}
	for k, v := range env {
		all[k] = v
	}
	return newFixture(t, fixtureOpts{env: all, secret: apiKey, replies: []http.HandlerFunc{signupReplies()}})
}

// signupReplies answers client creations and sessions alike, as often as
// asked.
func signupReplies() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/clients") {
			clientCreated(newClientID)(w, r)
			return
		}
		redirectOK(sessionURL)(w, r)
	}
}

// TestSignupLimitPerAddress: SIGNUPS_PER_IP sign-ups from one address an
// hour, whatever the e-mail address and whatever X-Forwarded-For says;
// then 429 with Retry-After, before any ComplyCube call. An IPv6 address
// counts with its whole /64; another address is not held back.
func TestSignupLimitPerAddress(t *testing.T) {
	f := signupFixture(t, map[string]string{"SIGNUPS_PER_IP": "3"})
	for i := 0; i < 3; i++ {
		if a := f.invoke(signupFrom("198.51.100.7", "p"+strconv.Itoa(i)+"@a.example")); a.Status != 200 {
			t.Fatalf("sign-up %d: %d %s", i, a.Status, a.Body)
		}
	}
	calls := len(f.cc.Calls())
	a := f.invoke(signupFrom("198.51.100.7", "p9@a.example"))
	if a.Status != 429 || !strings.Contains(a.Body, "from this address") {
		t.Fatalf("the 4th from one address: %d %s", a.Status, a.Body)
	}
	ra, err := strconv.Atoi(a.header("Retry-After"))
	if err != nil || ra < 1 || ra > 3601 {
		t.Errorf("Retry-After %q, want the seconds until the hour's window ends", a.header("Retry-After"))
	}
	if a.header("Access-Control-Expose-Headers") != "Retry-After" {
		t.Error("the page cannot read Retry-After")
	}
	if n := len(f.cc.Calls()); n != calls {
		t.Errorf("a refused sign-up reached ComplyCube (%d calls)", n-calls)
	}
	l := f.lastRequestLog()
	if l["refusedFor"] != "ip" {
		t.Errorf("log line %v", l)
	}
	line := f.lastRequestLine()
	m, errs := emfcheck.Validate([]byte(line))
	for _, err := range errs {
		t.Errorf("EMF: %v", err)
	}
	if m["SignupRefused"] != 1 || !strings.Contains(line, `"Reason":"ip"`) {
		t.Errorf("SignupRefused not counted by Reason: %s", line)
	}
	// Another address is not held back.
	if a := f.invoke(signupFrom("198.51.100.8", "q@a.example")); a.Status != 200 {
		t.Errorf("another address: %d %s", a.Status, a.Body)
	}

	// IPv6: one /64 is one address.
	for i := 0; i < 3; i++ {
		ip := "2001:db8:1:2::" + strconv.Itoa(i+1)
		if a := f.invoke(signupFrom(ip, "v6"+strconv.Itoa(i)+"@a.example")); a.Status != 200 {
			t.Fatalf("IPv6 sign-up %d: %d %s", i, a.Status, a.Body)
		}
	}
	if a := f.invoke(signupFrom("2001:db8:1:2:ffff:ffff:ffff:ffff", "v6x@a.example")); a.Status != 429 {
		t.Errorf("the same /64 again: %d", a.Status)
	}
	if a := f.invoke(signupFrom("2001:db8:1:3::1", "v6y@a.example")); a.Status != 200 {
		t.Errorf("another /64: %d %s", a.Status, a.Body)
	}
}

// TestSignupLimitPerEmail: SIGNUPS_PER_EMAIL sign-ups per address per
// UTC day, compared case-insensitively, from any source address.
func TestSignupLimitPerEmail(t *testing.T) {
	f := signupFixture(t, map[string]string{"SIGNUPS_PER_EMAIL": "2"})
	for i, email := range []string{"Grace@Navy.example", "grace@navy.example"} {
		if a := f.invoke(signupFrom("198.51.100."+strconv.Itoa(10+i), email)); a.Status != 200 {
			t.Fatalf("sign-up %d: %d %s", i, a.Status, a.Body)
		}
	}
	a := f.invoke(signupFrom("198.51.100.30", "GRACE@NAVY.EXAMPLE"))
	if a.Status != 429 || !strings.Contains(a.Body, "e-mail address") {
		t.Fatalf("the 3rd for one e-mail address: %d %s", a.Status, a.Body)
	}
	if ra, _ := strconv.Atoi(a.header("Retry-After")); ra < 1 || ra > 86401 {
		t.Errorf("Retry-After %q", a.header("Retry-After"))
	}
	if l := f.lastRequestLog(); l["refusedFor"] != "email" {
		t.Errorf("log line %v", l)
	}
}

// TestSignupDailyCap: SIGNUPS_PER_DAY new clients a day, all callers
// together.
func TestSignupDailyCap(t *testing.T) {
	f := signupFixture(t, map[string]string{"SIGNUPS_PER_DAY": "2"})
	for i := 0; i < 2; i++ {
		if a := f.invoke(signupFrom("198.51.100."+strconv.Itoa(40+i), "d"+strconv.Itoa(i)+"@a.example")); a.Status != 200 {
			t.Fatalf("sign-up %d: %d %s", i, a.Status, a.Body)
		}
	}
	a := f.invoke(signupFrom("198.51.100.50", "d9@a.example"))
	if a.Status != 429 || !strings.Contains(a.Body, "Today's sign-ups") {
		t.Fatalf("over the daily cap: %d %s", a.Status, a.Body)
	}
	if !strings.Contains(f.lastRequestLine(), `"Reason":"day"`) {
		t.Error("the daily cap is not counted under Reason day")
	}
}

// TestSignupPlaceNotGivenBack: a place is taken before ComplyCube is
// called and kept when the call fails, so a retry is not free.
func TestSignupPlaceNotGivenBack(t *testing.T) {
	f := newFixture(t, fixtureOpts{env: map[string]string{"CLIENT_SOURCE": "signup", "SIGNUPS_PER_IP": "2"}, secret: apiKey,
		replies: []http.HandlerFunc{reply(422, `{"type":"invalid_request","message":"no"}`)}})
	for i := 0; i < 2; i++ {
		if a := f.invoke(signupFrom("198.51.100.60", "r"+strconv.Itoa(i)+"@a.example")); a.Status != 422 {
			t.Fatalf("attempt %d: %d %s", i, a.Status, a.Body)
		}
	}
	if a := f.invoke(signupFrom("198.51.100.60", "r9@a.example")); a.Status != 429 {
		t.Errorf("after two failed sign-ups: %d, want 429", a.Status)
	}
}

// TestSignupLimitsFailClosed: a shared state that cannot count refuses
// sign-ups with 503, never lets them through uncounted.
func TestSignupLimitsFailClosed(t *testing.T) {
	f := newFixture(t, fixtureOpts{env: map[string]string{"CLIENT_SOURCE": "signup"}, secret: apiKey, store: countlessStore{memstate.New()},
		replies: []http.HandlerFunc{signupReplies()}})
	a := f.invoke(signupFrom("198.51.100.70", "s@a.example"))
	if a.Status != 503 || a.header("Retry-After") == "" {
		t.Fatalf("%d %v %s", a.Status, a.Headers, a.Body)
	}
	if len(f.cc.Calls()) != 0 {
		t.Error("ComplyCube called without a counted place")
	}
	if !strings.Contains(f.lastRequestLine(), `"StateErrors":1`) {
		t.Error("StateErrors not counted")
	}
}

// countlessStore cannot count.
type countlessStore struct{ state.Store }

func (countlessStore) Count(context.Context, string, int, time.Time) (bool, error) {
	return false, errors.New("ProvisionedThroughputExceededException")
}

// TestSharedStateHoldsNoAddress: what the limits keep is keyed hashes.
func TestSharedStateHoldsNoAddress(t *testing.T) {
	rec := &recordingStore{Store: memstate.New()}
	f := newFixture(t, fixtureOpts{env: map[string]string{"CLIENT_SOURCE": "signup"}, secret: apiKey, store: rec, replies: []http.HandlerFunc{signupReplies()}})
	if a := f.invoke(signupFrom("198.51.100.80", "Hedy.Lamarr@Films.example")); a.Status != 200 {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
	if len(rec.keys) < 4 {
		t.Fatalf("keys written %q", rec.keys)
	}
	for _, k := range rec.keys {
		low := strings.ToLower(k)
		if strings.Contains(low, "198.51.100.80") || strings.Contains(low, "hedy") || strings.Contains(low, "films.example") || strings.Contains(low, "lamarr") {
			t.Errorf("a key holds an address in clear: %q", k)
		}
	}
	for _, l := range f.logLines() {
		b, _ := json.Marshal(l)
		if strings.Contains(string(b), "198.51.100.80") || strings.Contains(strings.ToLower(string(b)), "hedy") {
			t.Errorf("a log line holds an address in clear: %s", b)
		}
	}
}

type recordingStore struct {
	state.Store
	keys []string
}

func (r *recordingStore) Count(ctx context.Context, key string, limit int, expires time.Time) (bool, error) {
	r.keys = append(r.keys, key)
	return r.Store.Count(ctx, key, limit, expires)
}

func (r *recordingStore) Put(ctx context.Context, key string, v []byte, expires time.Time) error {
	r.keys = append(r.keys, key)
	return r.Store.Put(ctx, key, v, expires)
}

// TestSourceAddressLogged: every line carries a keyed hash of the source
// address (IPv6 by its /64), the same for the same place, never the
// address; a refused Origin is cut to 200 characters.
func TestSourceAddressLogged(t *testing.T) {
	f := newFixture(t, fixtureOpts{secret: apiKey})
	r := post(validBody)
	r.sourceIP = "2001:db8:aa:bb::1"
	f.invoke(r)
	first := f.lastRequestLog()["sourceIpHash"]
	r.sourceIP = "2001:db8:aa:bb:1:2:3:4"
	f.invoke(r)
	second := f.lastRequestLog()["sourceIpHash"]
	r.sourceIP = "2001:db8:aa:bc::1"
	f.invoke(r)
	other := f.lastRequestLog()["sourceIpHash"]
	if first == nil || first != second || first == other {
		t.Errorf("hashes %v %v %v: one /64 must give one hash, another /64 another", first, second, other)
	}
	long := req{method: "POST", headers: map[string]string{"origin": "https://" + strings.Repeat("a", 10000) + ".example", "content-type": "application/json"}, body: validBody}
	if a := f.invoke(long); a.Status != 403 {
		t.Fatalf("%d", a.Status)
	}
	line := f.lastRequestLine()
	if len(line) > 2000 {
		t.Errorf("a refused 10 KB Origin wrote a %d-byte line", len(line))
	}
	if strings.Contains(line, "2001:db8") {
		t.Error("the address is in clear")
	}
}

// TestSupportEmailRules: SUPPORT_EMAILS is an allowlist and its first
// address the default; where anyone can call (signup, invitation), a
// request's own address is refused unless it is on the list.
func TestSupportEmailRules(t *testing.T) {
	withSupport := func(body, email string) string {
		return strings.TrimSuffix(body, "}") + `,"supportEmail":"` + email + `"}`
	}
	cases := []struct {
		name    string
		env     map[string]string
		body    string
		status  int
		sentTo  string // the supportEmail ComplyCube received
		refused bool
	}{
		{"request mode, no list: any address", nil, withSupport(validBody, "help@anyone.example"), 200, "help@anyone.example", false},
		{"request mode, on the list", map[string]string{"SUPPORT_EMAILS": "help@shop.example,desk@shop.example"}, withSupport(validBody, "DESK@shop.example"), 200, "DESK@shop.example", false},
		{"request mode, not on the list", map[string]string{"SUPPORT_EMAILS": "help@shop.example"}, withSupport(validBody, "phish@evil.example"), 400, "", true},
		{"the list's first when none is named", map[string]string{"SUPPORT_EMAILS": "help@shop.example,desk@shop.example"}, validBody, 200, "help@shop.example", false},
		{"signup, no list: refused", map[string]string{"CLIENT_SOURCE": "signup"}, withSupport(signupBody, "phish@evil.example"), 400, "", true},
		{"signup, on the list", map[string]string{"CLIENT_SOURCE": "signup", "SUPPORT_EMAILS": "help@shop.example"}, withSupport(signupBody, "help@shop.example"), 200, "help@shop.example", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{env: c.env, secret: apiKey, replies: []http.HandlerFunc{signupReplies()}})
			a := f.invoke(post(c.body))
			if a.Status != c.status {
				t.Fatalf("%d %s", a.Status, a.Body)
			}
			if c.refused {
				if !strings.Contains(a.Body, `"param":"supportEmail"`) || len(f.cc.Calls()) != 0 {
					t.Errorf("%s, %d calls", a.Body, len(f.cc.Calls()))
				}
				return
			}
			calls := f.cc.Calls()
			var sent struct{ SupportEmail string }
			json.Unmarshal(calls[len(calls)-1].Body, &sent)
			if sent.SupportEmail != c.sentTo {
				t.Errorf("ComplyCube got supportEmail %q, want %q", sent.SupportEmail, c.sentTo)
			}
		})
	}
}

// TestNamesThatLookLikeNames: real names in many scripts pass.
func TestNamesThatLookLikeNames(t *testing.T) {
	f := signupFixture(t, map[string]string{"SIGNUPS_PER_IP": "50", "SIGNUPS_PER_EMAIL": "50"})
	for _, name := range [][2]string{{"José", "Núñez"}, {"Zoë", "O'Brien-Smith"}, {"李", "小龙"}, {"Nguyễn", "Văn A"}, {"Ａｄａ", "Lovelace"}, {"Ørjan", "Ødegård"}, {"Анна", "Каренина"}, {"e\u0301mile", "Zola"}} {
		b, _ := json.Marshal(map[string]any{"client": map[string]any{"type": "person", "email": "n@a.example", "personDetails": map[string]string{"firstName": name[0], "lastName": name[1]}},
			"workflowTemplateId": "wt_123", "successUrl": "https://app.example.com/done", "cancelUrl": "https://app.example.com/cancel"})
		if a := f.invoke(post(string(b))); a.Status != 200 {
			t.Errorf("%q %q: %d %s", name[0], name[1], a.Status, a.Body)
		}
	}
}

// TestInvitationSessionCap: one invitation starts at most
// INVITATION_MAX_SESSIONS sessions over its life, across instances (one
// shared state for two functions here), then 410.
func TestInvitationSessionCap(t *testing.T) {
	shared := memstate.New()
	env := map[string]string{"CLIENT_SOURCE": "invitation", "WORKFLOW_TEMPLATE_IDS": "wt_default", "INVITATION_MAX_SESSIONS": "2"}
	secret := `{"apiKey":"` + apiKey + `","invitationKey":"` + invitationKey + `"}`
	a1 := newFixture(t, fixtureOpts{env: env, secret: secret, store: shared})
	a2 := newFixture(t, fixtureOpts{env: env, secret: secret, store: shared})
	tok := mint(t, invitationKey, invitation.Claims{ClientID: invitedClient, ExpiresAt: time.Now().Add(time.Hour)})
	for i, f := range []*fixture{a1, a2} {
		if a := f.invoke(post(invitationBody(tok))); a.Status != 200 {
			t.Fatalf("session %d: %d %s", i, a.Status, a.Body)
		}
	}
	a := a1.invoke(post(invitationBody(tok)))
	if a.Status != 410 || !strings.Contains(a.Body, `"type":"invitation_used_up"`) {
		t.Fatalf("the 3rd session: %d %s", a.Status, a.Body)
	}
	if len(a1.cc.Calls())+len(a2.cc.Calls()) != 2 {
		t.Error("a used-up invitation reached ComplyCube")
	}
	// Another invitation for the same client has its own count.
	other := mint(t, invitationKey, invitation.Claims{ClientID: invitedClient, ExpiresAt: time.Now().Add(2 * time.Hour)})
	if a := a2.invoke(post(invitationBody(other))); a.Status != 200 {
		t.Errorf("another invitation: %d %s", a.Status, a.Body)
	}
	// The state down: 503, not a session.
	down := newFixture(t, fixtureOpts{env: env, secret: secret, store: countlessStore{memstate.New()}})
	if a := down.invoke(post(invitationBody(tok))); a.Status != 503 {
		t.Errorf("state down: %d", a.Status)
	}
}

// TestMalformedInvitationsReadNoKey: a token that is not a well-formed
// HS256 one (alg none, HS512, a string exp) is refused as malformed and
// never makes the function read the secret again.
func TestMalformedInvitationsReadNoKey(t *testing.T) {
	now := time.Now()
	secret := `{"apiKey":"` + apiKey + `","invitationKey":"` + invitationKey + `"}`
	f := newFixture(t, fixtureOpts{env: invitationEnv, secret: secret})
	time.Sleep(1100 * time.Millisecond) // past the once-a-second re-read bound
	reads := len(f.sm.Requests())
	tokens := map[string]string{
		"alg none":      craft(`{"alg":"none","typ":"JWT"}`, claimsJSON(now, nil), func([]byte) []byte { return nil }),
		"alg HS512":     craft(`{"alg":"HS512","typ":"JWT"}`, claimsJSON(now, nil), hs256(invitationKey)),
		"alg hs256":     craft(`{"alg":"hs256","typ":"JWT"}`, claimsJSON(now, nil), hs256(invitationKey)),
		"exp a string":  craft(hs256Header, claimsJSON(now, map[string]any{"exp": strconv.FormatInt(now.Add(time.Hour).Unix(), 10)}), hs256(invitationKey)),
		"iat a string":  craft(hs256Header, claimsJSON(now, map[string]any{"iat": strconv.FormatInt(now.Unix(), 10)}), hs256(invitationKey)),
		"nbf a boolean": craft(hs256Header, claimsJSON(now, map[string]any{"nbf": true}), hs256(invitationKey)),
	}
	for name, tok := range tokens {
		a := f.invoke(post(invitationBody(tok)))
		if a.Status != 400 || !strings.Contains(a.Body, `"param":"invitation"`) {
			t.Errorf("%s: %d %s", name, a.Status, a.Body)
		}
		if cause, _ := f.lastRequestLog()["cause"].(string); strings.Contains(cause, "signature") {
			t.Errorf("%s logged as a signature failure: %q", name, cause)
		}
	}
	if n := len(f.sm.Requests()) - reads; n != 0 {
		t.Errorf("malformed tokens read the secret %d times", n)
	}
	// A well-formed HS256 token signed with another key does read it again
	// (a rotated invitationKey).
	f.invoke(post(invitationBody(craft(hs256Header, claimsJSON(now, nil), hs256("another-key-of-at-least-32-bytes-long!!")))))
	if n := len(f.sm.Requests()) - reads; n != 1 {
		t.Errorf("a bad signature read the secret %d times, want 1", n)
	}
}
