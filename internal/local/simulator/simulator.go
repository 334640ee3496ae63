// Package simulator is a local ComplyCube: it answers POST /v1/flow/sessions
// as ComplyCube documents it (see shared COMPLYCUBE.md) and hosts a small
// verification page of its own, so the whole flow runs on one machine with
// no keys and no network. The dev server and the tests use it.
package simulator

import (
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"html/template"
	mathrand "math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultKey is the sandbox key the simulator accepts when none is given.
const DefaultKey = "test_simulator_key"

// maxSessions bounds the sessions kept in memory; the oldest go first.
const maxSessions = 10000

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

// Simulator is an http.Handler. Create it with New.
type Simulator struct {
	keys      []string
	publicURL string

	mu       sync.Mutex
	sessions map[string]*Session
	order    []string

	requests atomic.Int64

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
		apiError(w, http.StatusInternalServerError, "internal_server_error", "Simulated failure.", "")
	case Fault500:
		apiError(w, http.StatusInternalServerError, "internal_server_error", "Simulated failure.", "")
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
	return &Simulator{keys: keys, publicURL: strings.TrimRight(publicURL, "/"), sessions: map[string]*Session{}}
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

// ServeHTTP routes the API and the hosted page.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/v1/flow/sessions":
		s.requests.Add(1)
		if s.injectFault(w, r) {
			return
		}
		s.createSession(w, r)
	case strings.HasPrefix(r.URL.Path, "/session/") && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		s.hostedPage(w, r, strings.TrimPrefix(r.URL.Path, "/session/"))
	case strings.HasPrefix(r.URL.Path, "/v1/"):
		apiError(w, http.StatusNotFound, "resource_not_found", "The requested resource does not exist.", "")
	default:
		http.NotFound(w, r)
	}
}

var (
	clientIDPattern = regexp.MustCompile(`^[0-9a-f]{24}$`)
	templatePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	knownFields     = map[string]bool{"clientId": true, "workflowTemplateId": true, "successUrl": true, "cancelUrl": true, "theme": true, "supportEmail": true, "shortUrl": true}
)

func (s *Simulator) createSession(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		apiError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Only POST is supported.", "")
		return
	}
	if !s.authorized(r.Header.Get("Authorization")) {
		apiError(w, http.StatusUnauthorized, "unauthorized", "The API key is invalid.", "")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		apiError(w, http.StatusBadRequest, "invalid_request", "Content-Type must be application/json.", "")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	var fields map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&fields); err != nil || fields == nil {
		if _, ok := err.(*http.MaxBytesError); ok {
			apiError(w, http.StatusRequestEntityTooLarge, "request_too_large", "The request is too large.", "")
			return
		}
		apiError(w, http.StatusBadRequest, "invalid_request", "The body is not a JSON object.", "")
		return
	}
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
	if !str("clientId", true, clientIDPattern.MatchString) ||
		!str("workflowTemplateId", true, templatePattern.MatchString) ||
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
