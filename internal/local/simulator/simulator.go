package simulator

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"mime"
	"net/http"
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

// maxAPIBody is the largest API body the simulator reads.
const maxAPIBody = 64 << 10

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

// New returns a simulator that accepts the given keys (DefaultKey when none)
// and builds redirect URLs on publicURL, the address browsers reach it at.
func New(publicURL string, keys ...string) *Simulator {
	if len(keys) == 0 {
		keys = []string{DefaultKey}
	}
	return &Simulator{keys: keys, publicURL: strings.TrimRight(publicURL, "/"), sessions: map[string]*Session{}, clients: map[string]*Client{}}
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

// Recorded returns the last API requests received (at most 1000), oldest
// first.
func (s *Simulator) Recorded() []Recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Recorded(nil), s.recorded...)
}

// ServeHTTP routes the API and the hosted page. The API paths are taken
// with and without a trailing slash, as ComplyCube takes them (the
// official Node SDK adds one).
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch path := strings.TrimSuffix(r.URL.Path, "/"); {
	case path == "/v1/flow/sessions" || path == "/v1/clients":
		s.serveAPI(w, r, path)
	case strings.HasPrefix(r.URL.Path, "/session/"):
		s.serveHostedPage(w, r)
	case strings.HasPrefix(r.URL.Path, "/v1/"):
		apiError(w, http.StatusNotFound, "resource_not_found", "The requested resource does not exist.", "")
	default:
		http.NotFound(w, r)
	}
}

// serveAPI answers one of the API's two endpoints, path without its
// trailing slash: faults and the rate limit first, then the checks
// ComplyCube makes of every call, then the endpoint itself.
func (s *Simulator) serveAPI(w http.ResponseWriter, r *http.Request, path string) {
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
}

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

func (s *Simulator) authorized(key string) bool {
	for _, k := range s.keys {
		if key == k {
			return true
		}
	}
	return false
}
