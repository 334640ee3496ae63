// Package complycube calls ComplyCube's API: POST /v1/flow/sessions
// ("create a session via workflows") and POST /v1/clients, and nothing
// else.
//
// A session call is retried once on a 5xx answer or a failed connection
// when the caller's deadline leaves room. A client creation is retried only
// when its request surely never reached ComplyCube (no connection was
// made), so that a retry can never create a second client. The client never
// follows a redirect (the API key must not travel to another host), bounds
// every attempt by its own timeout and reads at most MaxResponseBytes of an
// answer.
package complycube

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"time"

	"github.com/complycube-session/createsession/handler"
	"github.com/complycube-session/createsession/internal/lambda/outbound"
	"github.com/complycube-session/createsession/internal/lambda/truststore"
	"github.com/complycube-session/createsession/internal/lambda/warmconn"
)

// The endpoints the function calls, without the trailing slash that the
// official Node SDK adds (the PHP and Python SDKs send none).
const (
	SessionsPath = "/v1/flow/sessions"
	ClientsPath  = "/v1/clients"
)

// MaxResponseBytes bounds what is read of an answer. ComplyCube's answers to
// this call are a few hundred bytes; anything larger is treated as a fault.
const MaxResponseBytes = 64 << 10

// UserAgent names this program to ComplyCube, as the official SDKs do.
const UserAgent = "complycube-createsession/1.0"

// ErrTimeout is returned when no answer came within the attempt timeout or
// the caller's deadline: the core's own error, so that it answers 504.
var ErrTimeout = handler.ErrUpstreamTimeout

// ErrResponseTooLarge is returned when an answer exceeds MaxResponseBytes.
var ErrResponseTooLarge = errors.New("complycube answer too large")

// Response is ComplyCube's answer, in the core's type.
type Response = handler.UpstreamResponse

// Client calls ComplyCube.
type Client struct {
	base    string // the base URL, no trailing slash
	http    *http.Client
	prewarm *warmconn.Dialer
	timeout time.Duration
	// minRetryBudget is the least time that must remain before the caller's
	// deadline, after the back-off, for a retry to be worth starting.
	minRetryBudget time.Duration
	backoff        func() time.Duration
}

// Config configures a Client.
type Config struct {
	BaseURL string        // default DefaultBaseURL
	Timeout time.Duration // per attempt; default 5s
	// RootCAs, when set, replaces the system's roots (tests trust a test CA
	// with it).
	RootCAs *x509.CertPool
}

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	base := cfg.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	if err := CheckBaseURL(base); err != nil {
		return nil, err
	}
	u, _ := url.Parse(base)
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	// The system's roots parsed only as the server's chain names them (a
	// fraction of a CPU parsing them all up front is most of a cold
	// start's TLS cost), or the test's own.
	transport := outbound.Transport(truststore.ClientConfig(u.Hostname(), cfg.RootCAs))
	// Install dials nothing in advance when a proxy is in the way.
	prewarm := warmconn.New(u, transport.TLSClientConfig)
	prewarm.Install(transport)
	return &Client{
		base:    strings.TrimRight(base, "/"),
		prewarm: prewarm,
		http: &http.Client{
			Transport: transport,
			// Never follow a redirect: the Authorization header would go with it.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		timeout:        timeout,
		minRetryBudget: min(timeout, time.Second),
		backoff:        func() time.Duration { return 50*time.Millisecond + rand.N(100*time.Millisecond) },
	}, nil
}

// Prewarm starts opening a connection to the API (TCP, and the TLS
// handshake for https) in the background and keeps it for the first call,
// so that a cold start pays for it while it also reads the key. A call made
// before it is ready waits for it rather than dialing a second one. If
// ComplyCube has closed it by the time the first call wants it (idle too
// long), the call notices before sending anything and dials again, so even
// a client creation, never retried once sent, is safe (see warmconn). wait
// returns when it is done; its error is worth logging only, since the first
// call then dials as usual.
func (c *Client) Prewarm(ctx context.Context) (wait func() error) {
	return c.prewarm.Start(ctx)
}

// Endpoint is the URL session calls post to.
func (c *Client) Endpoint() string { return c.base + SessionsPath }

// CreateFlowSession posts body (a JSON object) to /v1/flow/sessions with
// apiKey. A non-nil error means no usable HTTP answer: ErrTimeout,
// ErrResponseTooLarge, or a connection failure. It is retried once on a
// 5xx or a failed connection: a second session is harmless.
func (c *Client) CreateFlowSession(ctx context.Context, apiKey string, body []byte) (Response, error) {
	return c.call(ctx, SessionsPath, apiKey, body, retryableSession)
}

// CreateClient posts body (a JSON object) to /v1/clients with apiKey. It
// is retried only when the first attempt surely never reached ComplyCube:
// after a 5xx, a reset or a timeout the client may exist, and a retry could
// make a second one.
func (c *Client) CreateClient(ctx context.Context, apiKey string, body []byte) (Response, error) {
	return c.call(ctx, ClientsPath, apiKey, body, retryableClientCreation)
}

// retryPolicy decides whether an attempt's outcome may be retried.
// connected reports whether the attempt got a connection to ComplyCube.
type retryPolicy func(resp Response, err error, connected bool) bool

func (c *Client) call(ctx context.Context, path, apiKey string, body []byte, retryable retryPolicy) (Response, error) {
	resp, connected, err := c.attempt(ctx, path, apiKey, body)
	resp.Attempts = 1
	if !retryable(resp, err, connected) {
		return resp, err
	}
	if !outbound.RetryPause(ctx, c.backoff(), c.minRetryBudget) {
		return resp, err
	}
	resp, _, err = c.attempt(ctx, path, apiKey, body)
	resp.Attempts = 2
	return resp, err
}

func retryableSession(resp Response, err error, _ bool) bool {
	if err != nil {
		// A certificate that does not verify will not verify a moment later.
		var certErr *tls.CertificateVerificationError
		return !errors.Is(err, ErrTimeout) && !errors.Is(err, ErrResponseTooLarge) && !errors.As(err, &certErr)
	}
	return resp.Status >= 500
}

// retryableClientCreation allows a retry only of an attempt that never got
// a connection: its request cannot have reached ComplyCube. (Go's transport
// itself re-sends a request on a reused connection only when it wrote
// nothing of it.)
func retryableClientCreation(resp Response, err error, connected bool) bool {
	return err != nil && !connected && retryableSession(resp, err, connected)
}

// attempt makes one HTTP call; connected reports whether it got a
// connection (after which the request may have reached ComplyCube).
func (c *Client) attempt(ctx context.Context, path, apiKey string, body []byte) (resp Response, connected bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { connected = true }})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return Response{}, false, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", apiKey)
	req.Header.Set("User-Agent", UserAgent)
	res, err := c.http.Do(req)
	if err != nil {
		return Response{}, connected, classify(ctx, "post "+path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, MaxResponseBytes+1))
	if err != nil {
		return Response{Status: res.StatusCode}, true, classify(ctx, "read answer", err)
	}
	if len(data) > MaxResponseBytes {
		return Response{Status: res.StatusCode}, true, fmt.Errorf("%w: over %d bytes (status %d)", ErrResponseTooLarge, MaxResponseBytes, res.StatusCode)
	}
	return Response{Status: res.StatusCode, Body: data, RetryAfter: res.Header.Get("Retry-After")}, true, nil
}

// classify turns a transport error into ErrTimeout when a deadline ran out.
// It strips the URL that *url.Error carries, so that the endpoint's address
// reaches the log through the caller's context, not through every error.
func classify(ctx context.Context, op string, err error) error {
	return fmt.Errorf("%s: %w", op, outbound.Cause(ctx, err, ErrTimeout))
}
