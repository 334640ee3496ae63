// Package turnstile asks Cloudflare Turnstile's siteverify whether a
// token was earned by a person: the create-session core's bot check
// (handler.BotCheck).
//
// One Verify is one siteverify call, retried once on a failed connection
// or a 5xx within its time bound (Config.Timeout, for both attempts
// together). Both attempts carry the same idempotency_key, a random UUID
// made for the call, so that Turnstile answers the retry as it answered a
// first attempt that did reach it, rather than as a second use of the
// token. The client never follows a redirect (the secret key must not
// travel to another host), reads at most MaxResponseBytes of an answer, and
// opens its connection during init (Prewarm).
package turnstile

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/complycube-session/createsession/handler"
	"github.com/complycube-session/createsession/internal/lambda/outbound"
	"github.com/complycube-session/createsession/internal/lambda/truststore"
	"github.com/complycube-session/createsession/internal/lambda/warmconn"
)

// DefaultVerifyURL is Turnstile's siteverify endpoint.
const DefaultVerifyURL = "https://challenges.cloudflare.com/turnstile/v0/siteverify"

// DefaultTimeout bounds one Verify, its retry included.
const DefaultTimeout = 3 * time.Second

// MaxResponseBytes bounds what is read of an answer; siteverify's are a
// few hundred bytes, and a larger one is a fault.
const MaxResponseBytes = 64 << 10

// MaxTokenLength is the longest token Turnstile issues (Cloudflare's
// documented maximum); a longer one is refused without asking.
const MaxTokenLength = 2048

// The form fields of a siteverify request.
const (
	FieldSecret         = "secret"
	FieldResponse       = "response"
	FieldRemoteIP       = "remoteip"
	FieldIdempotencyKey = "idempotency_key"
)

// Error codes of Turnstile's that Verify itself answers with, without
// asking, for a token that cannot be one.
const (
	codeMissingInputResponse = "missing-input-response"
	codeInvalidInputResponse = "invalid-input-response"
)

// userAgent names this program to Cloudflare.
const userAgent = "complycube-createsession/1.0"

// ErrTimeout is returned (wrapped) when siteverify did not answer within
// the time bound or the caller's deadline.
var ErrTimeout = errors.New("turnstile siteverify did not answer in time")

// ErrNotAnAnswer is returned (wrapped) when what came back is not
// siteverify's answer: a status other than 2xx, a body that is not JSON
// with a boolean success, or one over MaxResponseBytes.
var ErrNotAnAnswer = errors.New("not a turnstile siteverify answer")

// Config configures a Client.
type Config struct {
	VerifyURL string // default DefaultVerifyURL
	// SecretKey returns Turnstile's secret key; it is called on each
	// Verify (a cache is its own business). Required.
	SecretKey func(ctx context.Context) (string, error)
	// RefreshSecretKey, when set, is called once when siteverify refuses
	// the secret key (invalid-input-secret): it returns a different key (a
	// rotated one) or an error. Optional.
	RefreshSecretKey func(ctx context.Context, rejected string) (string, error)
	// Timeout bounds one Verify, the secret key's lookup and both
	// attempts together; default DefaultTimeout.
	Timeout time.Duration
	// RootCAs, when set, replaces the system's roots (tests trust a test
	// CA with it).
	RootCAs *x509.CertPool
}

// Client verifies Turnstile tokens. It implements handler.BotCheck.
type Client struct {
	endpoint  string
	secretKey func(ctx context.Context) (string, error)
	refresh   func(ctx context.Context, rejected string) (string, error)
	http      *http.Client
	prewarm   *warmconn.Dialer
	timeout   time.Duration
	// minRetryBudget is the least time that must remain, after the
	// back-off, for a retry to be worth starting.
	minRetryBudget time.Duration
	backoff        func() time.Duration
}

var _ handler.BotCheck = (*Client)(nil)

// New returns a Client for cfg; an error means cfg cannot work (a verify
// URL that is not an absolute http(s) URL, no SecretKey).
func New(cfg Config) (*Client, error) {
	endpoint := cfg.VerifyURL
	if endpoint == "" {
		endpoint = DefaultVerifyURL
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("turnstile: verify URL %q is not an absolute http(s) URL", endpoint)
	}
	if cfg.SecretKey == nil {
		return nil, errors.New("turnstile: no secret key source")
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	// The system's roots parsed only as the server's chain names them (a
	// fraction of a CPU parsing them all up front is most of a cold
	// start's TLS cost), or the test's own.
	transport := outbound.Transport(truststore.ClientConfig(u.Hostname(), cfg.RootCAs))
	// Install dials nothing in advance when a proxy is in the way.
	prewarm := warmconn.New(u, transport.TLSClientConfig)
	prewarm.Install(transport)
	return &Client{
		endpoint:  endpoint,
		secretKey: cfg.SecretKey,
		refresh:   cfg.RefreshSecretKey,
		prewarm:   prewarm,
		http: &http.Client{
			Transport: transport,
			// Never follow a redirect: the secret key would go with it.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		timeout:        timeout,
		minRetryBudget: min(timeout/4, 500*time.Millisecond),
		backoff:        func() time.Duration { return 25*time.Millisecond + mathrand.N(50*time.Millisecond) },
	}, nil
}

// Endpoint is the siteverify URL the client posts to.
func (c *Client) Endpoint() string { return c.endpoint }

// Prewarm starts opening a connection to siteverify (TCP, and the TLS
// handshake for https) in the background and keeps it for the first
// Verify, so that a cold start pays for it during init. A Verify made
// before it is ready waits for it rather than dialing a second one; if
// Cloudflare has closed it by then, Verify notices before sending anything
// and dials again (see warmconn). wait returns when it is done; its error
// is worth logging only, since the first Verify then dials as usual.
func (c *Client) Prewarm(ctx context.Context) (wait func() error) {
	return c.prewarm.Start(ctx)
}

// PrewarmStats says what became of the connections made in advance.
func (c *Client) PrewarmStats() warmconn.Stats { return c.prewarm.Stats() }

// Verify asks siteverify about token, solved by a person at remoteIP (may
// be empty). A verdict, success or not, is never an error; an error means
// siteverify could not be asked (no secret key, no answer in time, a
// non-2xx status after the retry, an answer that is not siteverify's). An
// empty token, or one longer than MaxTokenLength, is refused without
// asking. Neither the secret key nor the token is ever in an error.
func (c *Client) Verify(ctx context.Context, token, remoteIP string) (handler.BotVerdict, error) {
	v, err := c.verify(ctx, token, remoteIP, "")
	if err != nil || !secretRefused(v) {
		return v, err
	}
	// siteverify refused our key, not the visitor: never a 403 for them.
	// A rotated key is read again (at most once a second, by the cache's
	// rule) and tried once; otherwise the check cannot be made (503).
	if c.refresh != nil {
		rejected, _ := c.secretKey(ctx)
		if rotated, rerr := c.refresh(ctx, rejected); rerr == nil && rotated != rejected {
			if v, err = c.verify(ctx, token, remoteIP, rotated); err != nil || !secretRefused(v) {
				return v, err
			}
		}
	}
	return handler.BotVerdict{}, fmt.Errorf("turnstile: siteverify refused the secret key (%s): %w", strings.Join(v.ErrorCodes, ","), ErrSecretRefused)
}

// ErrSecretRefused is returned (wrapped) when siteverify refuses the
// secret key itself: the operator's configuration, not the visitor.
var ErrSecretRefused = errors.New("turnstile secret key refused")

// secretRefused reports a verdict about the secret key, not the token.
func secretRefused(v handler.BotVerdict) bool {
	for _, code := range v.ErrorCodes {
		if code == "invalid-input-secret" || code == "missing-input-secret" {
			return true
		}
	}
	return false
}

// verify makes the check with secret, or with SecretKey's when "".
func (c *Client) verify(ctx context.Context, token, remoteIP, secret string) (handler.BotVerdict, error) {
	switch {
	case token == "":
		return handler.BotVerdict{ErrorCodes: []string{codeMissingInputResponse}}, nil
	case len(token) > MaxTokenLength:
		return handler.BotVerdict{ErrorCodes: []string{codeInvalidInputResponse}}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if secret == "" {
		var err error
		if secret, err = c.secretKey(ctx); err != nil {
			return handler.BotVerdict{}, fmt.Errorf("turnstile: secret key: %w", err)
		}
	}
	if secret == "" {
		return handler.BotVerdict{}, errors.New("turnstile: secret key: empty")
	}
	form := url.Values{
		FieldSecret:         {secret},
		FieldResponse:       {token},
		FieldIdempotencyKey: {newUUID()},
	}
	if remoteIP != "" {
		form.Set(FieldRemoteIP, remoteIP)
	}
	body := form.Encode()

	verdict, retry, err := c.attempt(ctx, body)
	if !retry {
		return verdict, err
	}
	if !outbound.RetryPause(ctx, c.backoff(), c.minRetryBudget) {
		return verdict, err
	}
	verdict, _, err2 := c.attempt(ctx, body)
	if err2 != nil {
		return verdict, fmt.Errorf("%w (retried after: %v)", err2, err)
	}
	return verdict, nil
}

// attempt makes one siteverify call. retry reports whether its failure
// may be retried: a failed connection or a 5xx.
func (c *Client) attempt(ctx context.Context, body string) (v handler.BotVerdict, retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, strings.NewReader(body))
	if err != nil {
		return v, false, fmt.Errorf("turnstile: build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	res, err := c.http.Do(req)
	if err != nil {
		err = classify(ctx, "post siteverify", err)
		return v, retryable(err), err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, MaxResponseBytes+1))
	if err != nil {
		err = classify(ctx, "read siteverify answer", err)
		return v, retryable(err), err
	}
	switch {
	case res.StatusCode >= 500:
		return v, true, fmt.Errorf("turnstile: siteverify answered status %d: %w", res.StatusCode, ErrNotAnAnswer)
	case res.StatusCode < 200 || res.StatusCode > 299:
		return v, false, fmt.Errorf("turnstile: siteverify answered status %d: %w", res.StatusCode, ErrNotAnAnswer)
	case len(data) > MaxResponseBytes:
		return v, false, fmt.Errorf("turnstile: siteverify answer over %d bytes: %w", MaxResponseBytes, ErrNotAnAnswer)
	}
	v, err = parse(data)
	return v, false, err
}

// answer is the part of siteverify's answer the verdict needs.
type answer struct {
	Success    *bool    `json:"success"`
	Hostname   string   `json:"hostname"`
	ErrorCodes []string `json:"error-codes"`
}

// parse reads siteverify's answer: a JSON object with a boolean success.
// Its errors never quote the body.
func parse(data []byte) (handler.BotVerdict, error) {
	var a answer
	if err := json.Unmarshal(data, &a); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return handler.BotVerdict{}, fmt.Errorf("turnstile: siteverify answer: field %q is not of its type: %w", typeErr.Field, ErrNotAnAnswer)
		}
		return handler.BotVerdict{}, fmt.Errorf("turnstile: siteverify answer is not JSON: %w", ErrNotAnAnswer)
	}
	if a.Success == nil {
		return handler.BotVerdict{}, fmt.Errorf("turnstile: siteverify answer has no boolean success: %w", ErrNotAnAnswer)
	}
	return handler.BotVerdict{Success: *a.Success, Hostname: a.Hostname, ErrorCodes: a.ErrorCodes}, nil
}

// retryable reports whether a transport error is a failed connection worth
// one retry: not a timeout (no time is left for one), not a certificate
// that does not verify (it will not verify a moment later).
func retryable(err error) bool {
	var certErr *tls.CertificateVerificationError
	return !errors.Is(err, ErrTimeout) && !errors.As(err, &certErr)
}

// classify turns a transport error into ErrTimeout when a deadline ran
// out, and strips the URL that *url.Error carries.
func classify(ctx context.Context, op string, err error) error {
	return fmt.Errorf("turnstile: %s: %w", op, outbound.Cause(ctx, err, ErrTimeout))
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
