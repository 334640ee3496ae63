package turnstile_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/complycube-session/createsession/handler"
	"github.com/complycube-session/createsession/internal/lambda/turnstile"
	"github.com/complycube-session/createsession/internal/lambda/warmconn"
	"github.com/complycube-session/createsession/internal/testonly/faketurnstile"
	"github.com/complycube-session/createsession/internal/testonly/testclock"
)

const remoteIP = "203.0.113.7"

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func staticSecret(s string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return s, nil }
}

func start(t *testing.T, opts ...faketurnstile.Option) *faketurnstile.Server {
	t.Helper()
	f := faketurnstile.Start(opts...)
	t.Cleanup(f.Close)
	return f
}

func newClient(t *testing.T, f *faketurnstile.Server, secret string, timeout time.Duration) *turnstile.Client {
	t.Helper()
	c, err := turnstile.New(turnstile.Config{VerifyURL: f.URL(), SecretKey: staticSecret(secret), Timeout: timeout, RootCAs: f.CertPool()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkClean fails when err carries the secret or the token.
func checkClean(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q carries %q", err, s)
		}
	}
}

func TestSuccessAndTheForm(t *testing.T) {
	f := start(t)
	c := newClient(t, f, f.Secret(), 0)
	token := f.Issue("site.example")
	v, err := c.Verify(context.Background(), token, remoteIP)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Success || v.Hostname != "site.example" || len(v.ErrorCodes) != 0 {
		t.Fatalf("verdict %+v, want success on site.example", v)
	}
	reqs := f.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.URL != "/turnstile/v0/siteverify" || r.ContentType != "application/x-www-form-urlencoded" {
		t.Errorf("request %s %s (%s), want a form POST to siteverify with no query", r.Method, r.URL, r.ContentType)
	}
	var names []string
	for k := range r.Fields {
		names = append(names, k)
		if len(r.Fields[k]) != 1 {
			t.Errorf("field %s sent %d times", k, len(r.Fields[k]))
		}
	}
	slices.Sort(names)
	if want := []string{"idempotency_key", "remoteip", "response", "secret"}; !slices.Equal(names, want) {
		t.Errorf("form fields %v, want %v", names, want)
	}
	if r.Fields.Get(turnstile.FieldSecret) != f.Secret() || r.Fields.Get(turnstile.FieldResponse) != token || r.Fields.Get(turnstile.FieldRemoteIP) != remoteIP {
		t.Errorf("form %v does not carry the secret, the token and the address", r.Fields)
	}
	if k := r.Fields.Get(turnstile.FieldIdempotencyKey); !uuidV4.MatchString(k) {
		t.Errorf("idempotency_key %q is not a version 4 UUID", k)
	}

	// The next call has a key of its own.
	if _, err := c.Verify(context.Background(), f.Issue("site.example"), ""); err != nil {
		t.Fatal(err)
	}
	reqs = f.Requests()
	if reqs[1].Fields.Get(turnstile.FieldIdempotencyKey) == reqs[0].Fields.Get(turnstile.FieldIdempotencyKey) {
		t.Error("two calls shared one idempotency_key")
	}
	if _, ok := reqs[1].Fields[turnstile.FieldRemoteIP]; ok {
		t.Error("remoteip sent though there was none")
	}
}

// TestSecretRefusedIsNotTheVisitors: siteverify refusing the secret key
// is the operator's configuration, not a bot: an error (503), never a
// verdict of no; with RefreshSecretKey a rotated key is read and tried
// once.
func TestSecretRefusedIsNotTheVisitors(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	stale := newClient(t, f, "not-the-secret", 0)
	if _, err := stale.Verify(ctx, f.Issue("site.example"), remoteIP); !errors.Is(err, turnstile.ErrSecretRefused) {
		t.Fatalf("a refused secret key: %v, want ErrSecretRefused", err)
	}
	refreshed := 0
	c, err := turnstile.New(turnstile.Config{VerifyURL: f.URL(), SecretKey: staticSecret("the-old-key"),
		RefreshSecretKey: func(_ context.Context, rejected string) (string, error) {
			refreshed++
			if rejected != "the-old-key" {
				t.Errorf("refresh told %q was rejected", rejected)
			}
			return f.Secret(), nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Verify(ctx, f.Issue("site.example"), remoteIP)
	if err != nil || !v.Success || refreshed != 1 {
		t.Errorf("after the rotation: %+v %v, %d refreshes", v, err, refreshed)
	}
	// A refresh that finds nothing new: an error, not a verdict.
	same, _ := turnstile.New(turnstile.Config{VerifyURL: f.URL(), SecretKey: staticSecret("the-old-key"),
		RefreshSecretKey: func(context.Context, string) (string, error) { return "the-old-key", nil }})
	if _, err := same.Verify(ctx, f.Issue("site.example"), remoteIP); !errors.Is(err, turnstile.ErrSecretRefused) {
		t.Errorf("no new key: %v", err)
	}
}

func TestVerdictsAreNotErrors(t *testing.T) {
	clk := testclock.At(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	f := start(t, faketurnstile.WithClock(clk.Now))
	ctx := context.Background()

	spent := f.Issue("site.example")
	if v, err := newClient(t, f, f.Secret(), 0).Verify(ctx, spent, remoteIP); err != nil || !v.Success {
		t.Fatalf("first use: %+v, %v", v, err)
	}
	old := f.Issue("site.example")
	clk.Advance(faketurnstile.TokenTTL + time.Second)

	cases := []struct {
		name, secret, token string
		success             bool
		hostname            string
		codes               []string
	}{
		{"used twice", f.Secret(), spent, false, "", []string{"timeout-or-duplicate"}},
		{"expired", f.Secret(), old, false, "", []string{"timeout-or-duplicate"}},
		{"not issued", f.Secret(), "made-up-token", false, "", []string{"invalid-input-response"}},
		{"dummy token with a real secret", f.Secret(), faketurnstile.DummyToken, false, "", []string{"invalid-input-response"}},
		{"test secret: passes", faketurnstile.PassSecret, faketurnstile.DummyToken, true, "example.com", nil},
		{"test secret: fails", faketurnstile.FailSecret, faketurnstile.DummyToken, false, "", []string{"invalid-input-response"}},
		{"test secret: spent", faketurnstile.SpentSecret, faketurnstile.DummyToken, false, "", []string{"timeout-or-duplicate"}},
		{"no token", f.Secret(), "", false, "", []string{"missing-input-response"}},
		{"token too long", f.Secret(), strings.Repeat("x", turnstile.MaxTokenLength+1), false, "", []string{"invalid-input-response"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := newClient(t, f, tc.secret, 0).Verify(ctx, tc.token, remoteIP)
			if err != nil {
				t.Fatalf("error %v; a verdict is not an error", err)
			}
			want := handler.BotVerdict{Success: tc.success, Hostname: tc.hostname, ErrorCodes: tc.codes}
			if v.Success != want.Success || v.Hostname != want.Hostname || !slices.Equal(v.ErrorCodes, want.ErrorCodes) {
				t.Errorf("verdict %+v, want %+v", v, want)
			}
		})
	}
	// Neither an empty nor an over-long token is sent.
	for _, r := range f.Requests() {
		if tok := r.Fields.Get("response"); tok == "" || len(tok) > turnstile.MaxTokenLength {
			t.Errorf("a token of %d bytes was sent", len(tok))
		}
	}
}

func TestRetriedOnceOn5xxWithTheSameKey(t *testing.T) {
	for _, status := range []int{500, 502, 503} {
		f := start(t)
		c := newClient(t, f, f.Secret(), 0)
		f.Fail(status, 1)
		v, err := c.Verify(context.Background(), f.Issue("site.example"), remoteIP)
		if err != nil || !v.Success {
			t.Fatalf("%d then 200: %+v, %v", status, v, err)
		}
		reqs := f.Requests()
		if len(reqs) != 2 {
			t.Fatalf("%d then 200: %d requests, want 2", status, len(reqs))
		}
		if k := reqs[0].Fields.Get("idempotency_key"); k == "" || reqs[1].Fields.Get("idempotency_key") != k {
			t.Errorf("%d then 200: the retry changed the idempotency_key", status)
		}
		if reqs[0].Fields.Encode() != reqs[1].Fields.Encode() {
			t.Errorf("%d then 200: the retry sent another form", status)
		}
	}
}

// TestRetryAfterALostAnswer: the first attempt reached siteverify, which
// used the token up, but its answer was lost (a 502 from a proxy on the
// way back). The retry, with the same idempotency_key, gets siteverify's
// first answer, not timeout-or-duplicate.
func TestRetryAfterALostAnswer(t *testing.T) {
	f := start(t)
	var calls atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := http.Post(f.URL(), r.Header.Get("Content-Type"), r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if calls.Add(1) == 1 {
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return
		}
		w.WriteHeader(res.StatusCode)
		w.Write(body)
	}))
	defer proxy.Close()
	c, err := turnstile.New(turnstile.Config{VerifyURL: proxy.URL + "/turnstile/v0/siteverify", SecretKey: staticSecret(f.Secret())})
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Verify(context.Background(), f.Issue("site.example"), remoteIP)
	if err != nil || !v.Success || v.Hostname != "site.example" {
		t.Fatalf("verdict %+v, %v; want the first answer, success", v, err)
	}
	if n := f.Calls(); n != 2 {
		t.Errorf("siteverify saw %d requests, want 2", n)
	}
}

func TestTwo5xxAreAnError(t *testing.T) {
	f := start(t)
	c := newClient(t, f, f.Secret(), 0)
	f.Fail(500, -1)
	token := f.Issue("site.example")
	_, err := c.Verify(context.Background(), token, remoteIP)
	if !errors.Is(err, turnstile.ErrNotAnAnswer) {
		t.Fatalf("error %v, want ErrNotAnAnswer", err)
	}
	checkClean(t, err, f.Secret(), token)
	if n := f.Calls(); n != 2 {
		t.Errorf("%d requests, want 2 (one retry)", n)
	}
}

func TestOther4xxIsAnErrorNotRetried(t *testing.T) {
	for _, status := range []int{400, 403, 404, 429} {
		f := start(t)
		c := newClient(t, f, f.Secret(), 0)
		f.Fail(status, -1)
		if _, err := c.Verify(context.Background(), f.Issue("site.example"), remoteIP); !errors.Is(err, turnstile.ErrNotAnAnswer) {
			t.Errorf("%d: error %v, want ErrNotAnAnswer", status, err)
		}
		if n := f.Calls(); n != 1 {
			t.Errorf("%d: %d requests, want 1", status, n)
		}
	}
}

func TestHangIsAnErrorWithinTheBound(t *testing.T) {
	f := start(t)
	const bound = 300 * time.Millisecond
	c := newClient(t, f, f.Secret(), bound)
	f.Hang(10 * time.Second)
	begin := time.Now()
	_, err := c.Verify(context.Background(), f.Issue("site.example"), remoteIP)
	took := time.Since(begin)
	if !errors.Is(err, turnstile.ErrTimeout) {
		t.Fatalf("error %v, want ErrTimeout", err)
	}
	if took > bound+700*time.Millisecond {
		t.Errorf("took %v, bound %v", took, bound)
	}
	if n := f.Calls(); n != 1 {
		t.Errorf("%d requests, want 1 (no time for a retry)", n)
	}
}

func TestCallersDeadlineIsKept(t *testing.T) {
	f := start(t)
	c := newClient(t, f, f.Secret(), 0)
	f.Hang(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	begin := time.Now()
	if _, err := c.Verify(ctx, f.Issue("site.example"), remoteIP); !errors.Is(err, turnstile.ErrTimeout) {
		t.Fatalf("error %v, want ErrTimeout", err)
	}
	if took := time.Since(begin); took > time.Second {
		t.Errorf("took %v past a 150ms deadline", took)
	}
}

// TestRetryOnlyWithinTheBound: a 5xx that comes late leaves no time for a
// retry, and Verify returns within the bound.
func TestRetryOnlyWithinTheBound(t *testing.T) {
	f := start(t)
	const bound = 400 * time.Millisecond
	c := newClient(t, f, f.Secret(), bound)
	f.Fail(500, -1)
	f.Hang(350 * time.Millisecond)
	begin := time.Now()
	_, err := c.Verify(context.Background(), f.Issue("site.example"), remoteIP)
	if err == nil {
		t.Fatal("no error")
	}
	if took := time.Since(begin); took > bound+700*time.Millisecond {
		t.Errorf("took %v, bound %v", took, bound)
	}
	if n := f.Calls(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestNotAnAnswer(t *testing.T) {
	bodies := map[string]string{
		"html":                "<!DOCTYPE html><p>error</p>",
		"empty":               "",
		"null":                "null",
		"an array":            `[{"success":true}]`,
		"no success":          `{"hostname":"site.example","error-codes":[]}`,
		"success as a string": `{"success":"true","hostname":"site.example"}`,
		"success null":        `{"success":null}`,
		"codes not strings":   `{"success":false,"error-codes":[1]}`,
		"trailing data":       `{"success":true}{"success":true}`,
		"over 64 KiB":         `{"success":true,"cdata":"` + strings.Repeat("x", turnstile.MaxResponseBytes) + `"}`,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			f := start(t)
			c := newClient(t, f, f.Secret(), 0)
			f.Respond(http.StatusOK, body)
			token := f.Issue("site.example")
			_, err := c.Verify(context.Background(), token, remoteIP)
			if !errors.Is(err, turnstile.ErrNotAnAnswer) {
				t.Fatalf("error %v, want ErrNotAnAnswer", err)
			}
			checkClean(t, err, f.Secret(), token)
			if n := f.Calls(); n != 1 {
				t.Errorf("%d requests, want 1 (not retried)", n)
			}
		})
	}
	t.Run("garbage", func(t *testing.T) {
		f := start(t)
		c := newClient(t, f, f.Secret(), 0)
		f.Garbage()
		if _, err := c.Verify(context.Background(), f.Issue("site.example"), remoteIP); !errors.Is(err, turnstile.ErrNotAnAnswer) {
			t.Fatalf("error %v, want ErrNotAnAnswer", err)
		}
	})
	t.Run("64 KiB exactly is read", func(t *testing.T) {
		f := start(t)
		c := newClient(t, f, f.Secret(), 0)
		head, tail := `{"success":true,"hostname":"site.example","cdata":"`, `"}`
		f.Respond(http.StatusOK, head+strings.Repeat("x", turnstile.MaxResponseBytes-len(head)-len(tail))+tail)
		if v, err := c.Verify(context.Background(), "t", remoteIP); err != nil || !v.Success {
			t.Fatalf("%+v, %v", v, err)
		}
	})
}

func TestSecretKeyError(t *testing.T) {
	f := start(t)
	failure := errors.New("secrets manager unreachable")
	for name, source := range map[string]func(context.Context) (string, error){
		"error": func(context.Context) (string, error) { return "", failure },
		"empty": staticSecret(""),
	} {
		c, err := turnstile.New(turnstile.Config{VerifyURL: f.URL(), SecretKey: source})
		if err != nil {
			t.Fatal(err)
		}
		token := f.Issue("site.example")
		_, err = c.Verify(context.Background(), token, remoteIP)
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		if name == "error" && !errors.Is(err, failure) {
			t.Errorf("%s: error %v does not wrap the source's", name, err)
		}
		checkClean(t, err, token)
	}
	if n := f.Calls(); n != 0 {
		t.Errorf("%d requests without a secret key", n)
	}
}

func TestConnectionFailureRetriedThenAnError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			conn.Close() // hang up before any answer
		}
	}()
	defer ln.Close()
	c, err := turnstile.New(turnstile.Config{VerifyURL: "http://" + ln.Addr().String() + "/turnstile/v0/siteverify", SecretKey: staticSecret("s3cret-value")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Verify(context.Background(), "tok-value", remoteIP)
	if err == nil || errors.Is(err, turnstile.ErrTimeout) {
		t.Fatalf("error %v, want a connection failure", err)
	}
	checkClean(t, err, "s3cret-value", "tok-value")
	// Go's transport may itself re-dial a request that died before any
	// byte of it was written; what counts is that the client retried.
	if n := accepted.Load(); n < 2 {
		t.Errorf("%d connections, want at least 2 (one retry)", n)
	}
}

func TestNoRedirectIsFollowed(t *testing.T) {
	f := start(t)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, f.URL(), http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	c, err := turnstile.New(turnstile.Config{VerifyURL: redirect.URL + "/turnstile/v0/siteverify", SecretKey: staticSecret(f.Secret())})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Verify(context.Background(), f.Issue("site.example"), remoteIP); !errors.Is(err, turnstile.ErrNotAnAnswer) {
		t.Fatalf("error %v, want ErrNotAnAnswer", err)
	}
	if n := f.Calls(); n != 0 {
		t.Errorf("the redirect was followed: the secret went to another address (%d requests)", n)
	}
}

// waitConnections waits (a while) until the fake has counted n
// connections: it counts one once it has accepted it, a moment after the
// client's dial returned. It returns the count.
func waitConnections(f *faketurnstile.Server, n int) int {
	for deadline := time.Now().Add(2 * time.Second); f.Connections() < n && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	return f.Connections()
}

func TestPrewarmedConnectionIsUsed(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		var opts []faketurnstile.Option
		if tlsOn {
			opts = append(opts, faketurnstile.WithTLS())
		}
		f := start(t, opts...)
		c := newClient(t, f, f.Secret(), 0)
		if err := c.Prewarm(context.Background())(); err != nil {
			t.Fatalf("tls=%v: prewarm: %v", tlsOn, err)
		}
		if n := waitConnections(f, 1); n != 1 {
			t.Fatalf("tls=%v: %d connections after prewarm, want 1", tlsOn, n)
		}
		for range 3 {
			if v, err := c.Verify(context.Background(), f.Issue("site.example"), remoteIP); err != nil || !v.Success {
				t.Fatalf("tls=%v: %+v, %v", tlsOn, v, err)
			}
		}
		if st := c.PrewarmStats(); st != (warmconn.Stats{Used: 1}) {
			t.Errorf("tls=%v: stats %+v, want the connection made in advance used", tlsOn, st)
		}
		if n := f.Connections(); n != 1 {
			t.Errorf("tls=%v: %d connections for prewarm and 3 calls, want 1", tlsOn, n)
		}
	}
}

// TestPrewarmedConnectionClosedByTheServer: the server dropped the
// connection made in advance; the call notices, dials again and succeeds
// with a single request.
func TestPrewarmedConnectionClosedByTheServer(t *testing.T) {
	f := start(t)
	c := newClient(t, f, f.Secret(), 0)
	if err := c.Prewarm(context.Background())(); err != nil {
		t.Fatal(err)
	}
	if n := waitConnections(f, 1); n != 1 {
		t.Fatalf("%d connections after prewarm, want 1", n)
	}
	f.CloseClientConnections()
	time.Sleep(50 * time.Millisecond) // the FIN reaches the client
	if v, err := c.Verify(context.Background(), f.Issue("site.example"), remoteIP); err != nil || !v.Success {
		t.Fatalf("%+v, %v", v, err)
	}
	if st := c.PrewarmStats(); st != (warmconn.Stats{Closed: 1}) {
		t.Errorf("stats %+v, want the closed connection noticed", st)
	}
	if n := f.Calls(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestNewRejectsABadConfig(t *testing.T) {
	for _, u := range []string{"challenges.cloudflare.com/turnstile/v0/siteverify", "ftp://x/y", "https://", "https://user:pw@x/siteverify", "://"} {
		if _, err := turnstile.New(turnstile.Config{VerifyURL: u, SecretKey: staticSecret("s")}); err == nil {
			t.Errorf("verify URL %q accepted", u)
		}
	}
	if _, err := turnstile.New(turnstile.Config{}); err == nil {
		t.Error("no SecretKey accepted")
	}
	c, err := turnstile.New(turnstile.Config{SecretKey: staticSecret("s")})
	if err != nil || c.Endpoint() != turnstile.DefaultVerifyURL {
		t.Errorf("default endpoint %v, %v", c, err)
	}
}
