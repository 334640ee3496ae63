// Package simulator is a local ComplyCube: it answers POST /v1/clients and
// POST /v1/flow/sessions as ComplyCube documents them (see shared
// COMPLYCUBE.md: the paths with and without the trailing slash the official
// Node SDK sends, the documented error bodies, 429 above a rate limit) and
// hosts a small verification page of its own, so the whole flow runs on one
// machine with no keys and no network. The dev server, the tests and the
// benchmark use it; internal/local/simulator's SDK test checks it against
// ComplyCube's official Node SDK.
package simulator

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"math"
	mathrand "math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultKey is the sandbox key the simulator accepts when none is given.
const DefaultKey = "test_simulator_key"

// maxSessions bounds the sessions (and clients) kept in memory; the oldest
// go first.
const maxSessions = 10000

// maxRecorded bounds the API requests kept for Recorded.
const maxRecorded = 1000

// DefaultRate is ComplyCube's rate limit for sandbox keys, in requests a
// second; the dev server applies it unless told otherwise.
const DefaultRate = 5

// ComplyCube's documented error texts (shared COMPLYCUBE.md).
const (
	msgUnauthorized = "The 'Authorization' header is invalid"
	msgRateLimit    = "You have exceeded the rate limit prescribed to your plan"
	msgInternal     = "An error has occurred, try your request again. If you still keep getting this error, please get in touch with Support."
)

//go:embed page.html
var pageFS embed.FS

var page = template.Must(template.ParseFS(pageFS, "page.html"))

// Session is one created session, as the hosted page shows it.
type Session struct {
	Token              string
	ClientID           string
	WorkflowTemplateID string
	SuccessURL         string
	CancelURL          string
	Theme              string
	SupportEmail       string
}

// Client is one client created through POST /v1/clients.
type Client struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	Email string `json:"email"`
	// PersonDetails or CompanyDetails, as sent.
	PersonDetails  map[string]string `json:"personDetails,omitempty"`
	CompanyDetails map[string]string `json:"companyDetails,omitempty"`
	CreatedAt      string            `json:"createdAt"`
	UpdatedAt      string            `json:"updatedAt"`
}

// Recorded is one API request as the simulator received it.
type Recorded struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// Simulator is an http.Handler. Create it with New.
type Simulator struct {
	keys      []string
	publicURL string

	mu          sync.Mutex
	sessions    map[string]*Session
	order       []string
	clients     map[string]*Client
	clientOrder []string
	recorded    []Recorded

	requests atomic.Int64

	rejectEmails string // a suffix of e-mail addresses answered 400, for tests

	webhookURL, webhookSecret  string // where Complete and Cancel are told
	webhooksSent, webhookFails atomic.Int64

	// rate limit: a token bucket of rate tokens a second, rate deep; 0 is
	// no limit.
	rate       float64
	tokens     float64
	lastRefill time.Time

	faultRate  float64       // share of API calls that fail, 0 to 1
	faultDelay time.Duration // how long a "slow" fault waits
	faults     [3]atomic.Int64
}

// Fault kinds the simulator can inject.
const (
	FaultReset = iota // the connection is reset without an answer
	Fault500          // 500 internal_server_error
	FaultSlow         // the answer comes after the fault delay
)

// SetFaults makes a share rate (0 to 1) of API calls fail, each at random
// as a reset, a 500 or an answer delayed by slow. Set it before serving.
func (s *Simulator) SetFaults(rate float64, slow time.Duration) {
	s.faultRate, s.faultDelay = rate, slow
}

// Faults returns how many faults of each kind were injected.
func (s *Simulator) Faults() (resets, errors500, slow int64) {
	return s.faults[FaultReset].Load(), s.faults[Fault500].Load(), s.faults[FaultSlow].Load()
}

// injectFault fails the call and returns true, or returns false.
func (s *Simulator) injectFault(w http.ResponseWriter, r *http.Request) bool {
	if s.faultRate <= 0 || mathrand.Float64() >= s.faultRate {
		return false
	}
	kind := mathrand.IntN(3)
	s.faults[kind].Add(1)
	switch kind {
	case FaultReset:
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			conn.Close()
			return true
		}
		apiError(w, http.StatusInternalServerError, "internal_server_error", msgInternal, "")
	case Fault500:
		apiError(w, http.StatusInternalServerError, "internal_server_error", msgInternal, "")
	case FaultSlow:
		select {
		case <-time.After(s.faultDelay):
		case <-r.Context().Done():
			return true
		}
		return false // then answer as usual, late
	}
	return true
}

// New returns a simulator that accepts the given keys (DefaultKey when none)
// and builds redirect URLs on publicURL, the address browsers reach it at.
func New(publicURL string, keys ...string) *Simulator {
	if len(keys) == 0 {
		keys = []string{DefaultKey}
	}
	return &Simulator{keys: keys, publicURL: strings.TrimRight(publicURL, "/"), sessions: map[string]*Session{}, clients: map[string]*Client{}}
}

// SetRateLimit makes the simulator answer 429 rate_limit_exceeded, with
// Retry-After, to API calls above perSecond a second (ComplyCube's limits:
// 5 for sandbox keys, 10 for live ones). 0, the default of New, is no
// limit. Set it before serving.
func (s *Simulator) SetRateLimit(perSecond float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rate, s.tokens, s.lastRefill = perSecond, perSecond, time.Time{}
}

// allow takes a token from the bucket, or says how long until one is free.
func (s *Simulator) allow() (ok bool, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rate <= 0 {
		return true, 0
	}
	now := time.Now()
	if !s.lastRefill.IsZero() {
		s.tokens = min(s.rate, s.tokens+now.Sub(s.lastRefill).Seconds()*s.rate)
	}
	s.lastRefill = now
	if s.tokens >= 1 {
		s.tokens--
		return true, 0
	}
	return false, time.Duration((1 - s.tokens) / s.rate * float64(time.Second))
}

// SetWebhook makes Complete and Cancel on the hosted page send a signed
// webhook to url, as ComplyCube does: the event as JSON, its hex
// HMAC-SHA256 under secret in the ComplyCube-Signature header. Set it
// before serving.
func (s *Simulator) SetWebhook(url, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookURL, s.webhookSecret = url, secret
}

// Webhooks counts the webhooks sent and the ones that were not answered 2xx.
func (s *Simulator) Webhooks() (sent, failed int64) {
	return s.webhooksSent.Load(), s.webhookFails.Load()
}

// SetRejectEmails makes client creations whose e-mail ends in suffix fail
// as ComplyCube fails an address it will not take: 400 invalid_request,
// param email. Tests use it to see ComplyCube's own 400 passed through.
func (s *Simulator) SetRejectEmails(suffix string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejectEmails = suffix
}

// Recorded returns the last API requests received (at most 1000), oldest
// first.
func (s *Simulator) Recorded() []Recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Recorded(nil), s.recorded...)
}

// AddClient registers c as a client the simulator knows, with a new ID
// (the dev server's invited person), and returns it.
func (s *Simulator) AddClient(c Client) Client {
	c.ID = newClientID()
	c.CreatedAt = time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	c.UpdatedAt = c.CreatedAt
	s.storeClient(&c)
	return c
}

func (s *Simulator) storeClient(c *Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[c.ID] = c
	s.clientOrder = append(s.clientOrder, c.ID)
	if len(s.clientOrder) > maxSessions {
		delete(s.clients, s.clientOrder[0])
		s.clientOrder = s.clientOrder[1:]
	}
}

// Client returns a created client by ID.
func (s *Simulator) Client(id string) (*Client, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	return c, ok
}

// SetPublicURL changes the base of redirect URLs (when the port is known
// only after listening).
func (s *Simulator) SetPublicURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.publicURL = strings.TrimRight(u, "/")
}

// Requests counts the API calls received.
func (s *Simulator) Requests() int64 { return s.requests.Load() }

// Session returns a created session by token.
func (s *Simulator) Session(token string) (*Session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[token]
	return ss, ok
}

// ServeHTTP routes the API and the hosted page. The API paths are taken
// with and without a trailing slash, as ComplyCube takes them (the
// official Node SDK adds one).
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch path := strings.TrimSuffix(r.URL.Path, "/"); {
	case path == "/v1/flow/sessions" || path == "/v1/clients":
		s.requests.Add(1)
		body, tooLarge := s.record(w, r)
		if s.injectFault(w, r) {
			return
		}
		if ok, wait := s.allow(); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			apiError(w, http.StatusTooManyRequests, "rate_limit_exceeded", msgRateLimit, "")
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			apiError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Only POST is supported.", "")
			return
		}
		if !s.authorized(r.Header.Get("Authorization")) {
			apiError(w, http.StatusUnauthorized, "unauthorized", msgUnauthorized, "")
			return
		}
		if tooLarge {
			apiError(w, http.StatusRequestEntityTooLarge, "request_too_large", "The request is too large.", "")
			return
		}
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
			apiError(w, http.StatusBadRequest, "invalid_request", "Content-Type must be application/json.", "")
			return
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
			apiError(w, http.StatusBadRequest, "invalid_request", "The body is not a JSON object.", "")
			return
		}
		if path == "/v1/clients" {
			s.createClient(w, fields)
		} else {
			s.createSession(w, fields)
		}
	case strings.HasPrefix(r.URL.Path, "/session/") && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		token, action, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/session/"), "/")
		switch action {
		case "":
			s.hostedPage(w, r, token)
		case "complete", "cancel":
			s.finish(w, r, token, action)
		default:
			http.NotFound(w, r)
		}
	case strings.HasPrefix(r.URL.Path, "/v1/"):
		apiError(w, http.StatusNotFound, "resource_not_found", "The requested resource does not exist.", "")
	default:
		http.NotFound(w, r)
	}
}

// maxAPIBody is the largest API body the simulator reads.
const maxAPIBody = 64 << 10

// record reads the body (up to maxAPIBody) and keeps the request for
// Recorded.
func (s *Simulator) record(w http.ResponseWriter, r *http.Request) (body []byte, tooLarge bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAPIBody))
	var mbe *http.MaxBytesError
	tooLarge = errors.As(err, &mbe)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recorded = append(s.recorded, Recorded{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	if len(s.recorded) > maxRecorded {
		s.recorded = s.recorded[len(s.recorded)-maxRecorded:]
	}
	return body, tooLarge
}

var (
	clientIDPattern = regexp.MustCompile(`^[0-9a-f]{24}$`)
	templatePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	knownFields     = map[string]bool{"clientId": true, "workflowTemplateId": true, "successUrl": true, "cancelUrl": true, "theme": true, "supportEmail": true, "shortUrl": true}
)

func (s *Simulator) createSession(w http.ResponseWriter, fields map[string]json.RawMessage) {
	for name := range fields {
		if !knownFields[name] {
			apiError(w, http.StatusBadRequest, "invalid_request", "'"+name+"' is not allowed", name)
			return
		}
	}
	var ss Session
	str := func(name string, required bool, ok func(string) bool) bool {
		raw, present := fields[name]
		if !present || string(raw) == "null" {
			if required {
				apiError(w, http.StatusBadRequest, "invalid_request", "'"+name+"' is required", name)
				return false
			}
			return true
		}
		var v string
		if json.Unmarshal(raw, &v) != nil || !ok(v) {
			apiError(w, http.StatusBadRequest, "invalid_request", "'"+name+"' is invalid", name)
			return false
		}
		switch name {
		case "clientId":
			ss.ClientID = v
		case "workflowTemplateId":
			ss.WorkflowTemplateID = v
		case "successUrl":
			ss.SuccessURL = v
		case "cancelUrl":
			ss.CancelURL = v
		case "theme":
			ss.Theme = v
		case "supportEmail":
			ss.SupportEmail = v
		}
		return true
	}
	if !str("clientId", true, clientIDPattern.MatchString) {
		return
	}
	// A client this simulator created, or an ID of the right form (a client
	// made elsewhere, as in request mode).
	if !str("workflowTemplateId", true, templatePattern.MatchString) ||
		!str("successUrl", true, isWebURL) ||
		!str("cancelUrl", true, isWebURL) ||
		!str("theme", false, func(v string) bool { return v == "light" || v == "dark" }) ||
		!str("supportEmail", false, func(v string) bool { return strings.Count(v, "@") == 1 && len(v) <= 254 }) {
		return
	}
	shortURL := false
	if raw, ok := fields["shortUrl"]; ok && string(raw) != "null" {
		if json.Unmarshal(raw, &shortURL) != nil {
			apiError(w, http.StatusBadRequest, "invalid_request", "'shortUrl' is invalid", "shortUrl")
			return
		}
	}
	if ss.Theme == "" {
		ss.Theme = "light"
	}
	ss.Token = newToken(shortURL)
	s.mu.Lock()
	s.sessions[ss.Token] = &ss
	s.order = append(s.order, ss.Token)
	if len(s.order) > maxSessions {
		delete(s.sessions, s.order[0])
		s.order = s.order[1:]
	}
	base := s.publicURL
	s.mu.Unlock()
	redirect := base + "/session/" + ss.Token + "?theme=" + ss.Theme
	body, _ := json.Marshal(map[string]string{"redirectUrl": redirect})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

func (s *Simulator) authorized(key string) bool {
	for _, k := range s.keys {
		if key == k {
			return true
		}
	}
	return false
}

func isWebURL(v string) bool {
	u, err := url.Parse(v)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func newToken(short bool) string {
	b := make([]byte, 12)
	if short {
		b = b[:5]
	}
	rand.Read(b)
	return "test_" + hex.EncodeToString(b)
}

// apiError writes ComplyCube's error shape, fields in its order.
func apiError(w http.ResponseWriter, status int, typ, message, param string) {
	body, _ := json.Marshal(struct {
		Type    string `json:"type"`
		Message string `json:"message"`
		Param   string `json:"param,omitempty"`
	}{typ, message, param})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

func (s *Simulator) hostedPage(w http.ResponseWriter, r *http.Request, token string) {
	ss, ok := s.Session(token)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'none'")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		page.Execute(w, map[string]any{"Missing": true, "Dark": r.URL.Query().Get("theme") == "dark"})
		return
	}
	dark := ss.Theme == "dark" || r.URL.Query().Get("theme") == "dark"
	page.Execute(w, map[string]any{"S": ss, "Dark": dark})
}

// webhookClient sends the simulator's webhooks; ComplyCube waits 15 s.
var webhookClient = &http.Client{Timeout: 15 * time.Second}

// finish is the hosted page's Complete or Cancel: the session's webhook
// goes out (workflow.session.completed or .cancelled), then the browser
// goes to successUrl or cancelUrl.
func (s *Simulator) finish(w http.ResponseWriter, r *http.Request, token, action string) {
	ss, ok := s.Session(token)
	if !ok {
		s.hostedPage(w, r, token)
		return
	}
	target, typ, status, outcome := ss.SuccessURL, "workflow.session.completed", "completed", "clear"
	if action == "cancel" {
		target, typ, status, outcome = ss.CancelURL, "workflow.session.cancelled", "cancelled", ""
	}
	s.mu.Lock()
	url, secret := s.webhookURL, s.webhookSecret
	s.mu.Unlock()
	if url != "" {
		payload := map[string]any{"id": ss.Token, "clientId": ss.ClientID, "workflowTemplateId": ss.WorkflowTemplateID, "status": status}
		if outcome != "" {
			payload["outcome"] = outcome
		}
		event, _ := json.Marshal(map[string]any{"id": "evt_" + hex.EncodeToString(randomBytes(12)), "type": typ, "resourceType": "workflowSession",
			"createdAt": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), "payload": payload})
		s.sendWebhook(r.Context(), url, secret, event)
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func (s *Simulator) sendWebhook(ctx context.Context, url, secret string, event []byte) {
	s.webhooksSent.Add(1)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(event)
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost, url, bytes.NewReader(event))
	if err != nil {
		s.webhookFails.Add(1)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("ComplyCube-Signature", hex.EncodeToString(mac.Sum(nil)))
	res, err := webhookClient.Do(req)
	if err != nil {
		s.webhookFails.Add(1)
		return
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		s.webhookFails.Add(1)
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// clientFields are the client fields the simulator takes: the ones the
// function sends and the few other documented ones.
var clientFields = map[string]bool{"type": true, "email": true, "mobile": true, "telephone": true, "externalId": true, "joinedDate": true, "personDetails": true, "companyDetails": true}

// createClient answers POST /v1/clients as ComplyCube does: the client
// object, with a new 24-hex ID.
func (s *Simulator) createClient(w http.ResponseWriter, fields map[string]json.RawMessage) {
	for name := range fields {
		if !clientFields[name] {
			apiError(w, http.StatusBadRequest, "invalid_request", "'"+name+"' is not allowed", name)
			return
		}
	}
	str := func(m map[string]json.RawMessage, param, name string) (string, bool) {
		raw, ok := m[name]
		if !ok || string(raw) == "null" {
			apiError(w, http.StatusBadRequest, "invalid_request", "'"+param+"' is required", param)
			return "", false
		}
		var v string
		if json.Unmarshal(raw, &v) != nil || strings.TrimSpace(v) == "" || len(v) > 254 {
			apiError(w, http.StatusBadRequest, "invalid_request", "'"+param+"' is invalid", param)
			return "", false
		}
		return v, true
	}
	c := &Client{}
	var ok bool
	if c.Type, ok = str(fields, "type", "type"); !ok {
		return
	}
	if c.Type != "person" && c.Type != "company" {
		apiError(w, http.StatusBadRequest, "invalid_request", "'type' is invalid", "type")
		return
	}
	if c.Email, ok = str(fields, "email", "email"); !ok {
		return
	}
	s.mu.Lock()
	reject := s.rejectEmails != "" && strings.HasSuffix(c.Email, s.rejectEmails)
	s.mu.Unlock()
	if reject || strings.Count(c.Email, "@") != 1 || strings.HasPrefix(c.Email, "@") || strings.HasSuffix(c.Email, "@") {
		apiError(w, http.StatusBadRequest, "invalid_request", "'email' is invalid", "email")
		return
	}
	details, need := "personDetails", []string{"firstName", "lastName"}
	if c.Type == "company" {
		details, need = "companyDetails", []string{"name"}
	}
	var inner map[string]json.RawMessage
	if raw, present := fields[details]; !present || json.Unmarshal(raw, &inner) != nil || inner == nil {
		apiError(w, http.StatusBadRequest, "invalid_request", "'"+details+"' is required", details)
		return
	}
	got := map[string]string{}
	for _, name := range need {
		v, ok := str(inner, details+"."+name, name)
		if !ok {
			return
		}
		got[name] = v
	}
	if c.Type == "person" {
		c.PersonDetails = got
	} else {
		c.CompanyDetails = got
	}
	added := s.AddClient(*c)
	body, _ := json.Marshal(added)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// newClientID returns an ID of ComplyCube's form: 24 lowercase hex.
func newClientID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}
