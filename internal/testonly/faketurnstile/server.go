// Package faketurnstile is a fake of Cloudflare Turnstile's siteverify for
// tests: it verifies the tokens it issues as Turnstile does (each once,
// within 300 seconds; an idempotent retry gets the first answer again),
// knows Cloudflare's test secret keys, records every request, and fails on
// demand. Its token logic is the dev server's stand-in's
// (internal/local/turnstilestandin).
package faketurnstile

import (
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"time"

	"github.com/complycube-session/createsession/internal/local/turnstilestandin"
)

// Secret is the fake's own secret key unless WithSecret names another.
const Secret = "fake-turnstile-secret-key"

// Cloudflare's test secret keys, which the fake also accepts: PassSecret
// always passes (hostname TestHostname), FailSecret always fails
// (invalid-input-response), SpentSecret always answers
// timeout-or-duplicate. They accept any token, DummyToken included.
const (
	PassSecret   = turnstilestandin.TestSecretPass
	FailSecret   = turnstilestandin.TestSecretFail
	SpentSecret  = turnstilestandin.TestSecretSpent
	DummyToken   = turnstilestandin.DummyToken
	TestHostname = turnstilestandin.TestHostname
	TokenTTL     = turnstilestandin.TokenTTL
)

// Answer is siteverify's answer.
type Answer = turnstilestandin.Answer

// Request is one request the fake received.
type Request struct {
	Method      string
	URL         string // path and query, as sent
	ContentType string
	Header      http.Header
	// Fields are the body's fields (form-encoded, or a JSON object of
	// strings), exactly as sent; nil when the body could not be read.
	Fields url.Values
}

// Option configures Start.
type Option func(*config)

type config struct {
	now    func() time.Time
	secret string
	tls    bool
}

// WithClock makes the fake read the time from now (for expiry tests).
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithSecret makes secret the fake's own secret key, in place of Secret.
func WithSecret(secret string) Option { return func(c *config) { c.secret = secret } }

// WithTLS serves https (HTTP/2 and HTTP/1.1) with a test certificate that
// CertPool trusts.
func WithTLS() Option { return func(c *config) { c.tls = true } }

// Server is the fake.
type Server struct {
	http     *httptest.Server
	secret   string
	verifier *turnstilestandin.Verifier

	mu          sync.Mutex
	requests    []Request
	connections int
	failStatus  int
	failLeft    int
	hang        time.Duration
	respond     bool
	respStatus  int
	respBody    string
}

// Start serves the fake on a loopback port. Close it when done.
func Start(opts ...Option) *Server {
	cfg := config{secret: Secret}
	for _, o := range opts {
		o(&cfg)
	}
	s := &Server{secret: cfg.secret}
	s.verifier = turnstilestandin.NewVerifier(cfg.now, cfg.secret, PassSecret, FailSecret, SpentSecret)
	s.http = httptest.NewUnstartedServer(s)
	s.http.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.mu.Lock()
			s.connections++
			s.mu.Unlock()
		}
	}
	if cfg.tls {
		s.http.EnableHTTP2 = true
		s.http.StartTLS()
	} else {
		s.http.Start()
	}
	return s
}

// URL is the fake's siteverify endpoint.
func (s *Server) URL() string { return s.http.URL + turnstilestandin.SiteverifyPath }

// CertPool trusts the fake's certificate (WithTLS); nil without TLS.
func (s *Server) CertPool() *x509.CertPool {
	if s.http.TLS == nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AddCert(s.http.Certificate())
	return pool
}

// Secret is the fake's own secret key.
func (s *Server) Secret() string { return s.secret }

// Issue returns a token solved on hostname, valid once for TokenTTL.
func (s *Server) Issue(hostname string) string { return s.verifier.Issue(hostname) }

// Close stops the server.
func (s *Server) Close() {
	s.http.CloseClientConnections()
	s.http.Close()
}

// CloseClientConnections closes every connection to the fake, as a
// server that drops idle connections does.
func (s *Server) CloseClientConnections() { s.http.CloseClientConnections() }

// Fail makes the next n requests answer status (a 5xx, say) with an
// internal-error body, without looking at them; n < 0 makes every request
// fail until Heal.
func (s *Server) Fail(status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failStatus, s.failLeft = status, n
}

// Hang makes every request wait d (or until the client leaves) before it is
// answered, until Heal.
func (s *Server) Hang(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang = d
}

// Respond makes every request answer status and body, whatever it asked,
// until Heal.
func (s *Server) Respond(status int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.respond, s.respStatus, s.respBody = true, status, body
}

// Garbage makes every request answer 200 with an HTML page, as a proxy's
// error page would be, until Heal.
func (s *Server) Garbage() {
	s.Respond(http.StatusOK, "<!DOCTYPE html><html><body><h1>Something went wrong</h1></body></html>")
}

// Heal ends Fail, Hang, Respond and Garbage.
func (s *Server) Heal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failStatus, s.failLeft, s.hang, s.respond = 0, 0, 0, false
}

// Requests returns the requests received so far, failed ones included.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Calls counts the requests received so far.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// Connections counts the connections clients opened to the fake.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connections
}

// ServeHTTP records the request, applies the injected failure if any, and
// answers as siteverify.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != turnstilestandin.SiteverifyPath {
		http.NotFound(w, r)
		return
	}
	fields, readErr := turnstilestandin.ReadFields(r)
	s.mu.Lock()
	s.requests = append(s.requests, Request{
		Method:      r.Method,
		URL:         r.URL.RequestURI(),
		ContentType: r.Header.Get("Content-Type"),
		Header:      r.Header.Clone(),
		Fields:      fields,
	})
	hang := s.hang
	fail := 0
	if s.failLeft != 0 {
		fail = s.failStatus
		if s.failLeft > 0 {
			s.failLeft--
		}
	}
	respond, respStatus, respBody := s.respond, s.respStatus, s.respBody
	s.mu.Unlock()

	if hang > 0 {
		t := time.NewTimer(hang)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	switch {
	case fail != 0:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(fail)
		w.Write([]byte(`{"success":false,"error-codes":["internal-error"]}`))
	case respond:
		w.WriteHeader(respStatus)
		w.Write([]byte(respBody))
	case r.Method != http.MethodPost:
		w.Header().Set("Allow", http.MethodPost)
		w.WriteHeader(http.StatusMethodNotAllowed)
	case readErr != nil:
		turnstilestandin.WriteAnswer(w, turnstilestandin.Failure(turnstilestandin.CodeBadRequest))
	default:
		turnstilestandin.WriteAnswer(w, s.verifier.Verify(turnstilestandin.QueryFrom(fields)))
	}
}
