package turnstilestandin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// TokenTTL is how long a token can be verified after it was issued: 300
// seconds, as Turnstile's.
const TokenTTL = 300 * time.Second

// MaxTokenLength is the longest token siteverify considers: Cloudflare's
// documented maximum. A longer one is invalid-input-response.
const MaxTokenLength = 2048

// MaxBodyBytes bounds what siteverify reads of a request; a larger body is
// bad-request.
const MaxBodyBytes = 64 << 10

// Cloudflare's test keys (see Turnstile's testing documentation). A test
// secret key accepts any token: TestSecretPass always passes (with hostname
// TestHostname), TestSecretFail always fails, TestSecretSpent always
// answers timeout-or-duplicate. With a test site key the widget hands out
// DummyToken, which a secret that is not a test key rejects.
const (
	TestSiteKeyPass  = "1x00000000000000000000AA"
	TestSiteKeyBlock = "2x00000000000000000000AB"
	TestSecretPass   = "1x0000000000000000000000000000000AA"
	TestSecretFail   = "2x0000000000000000000000000000000AA"
	TestSecretSpent  = "3x0000000000000000000000000000000AA"
	DummyToken       = "XXXX.DUMMY.TOKEN.XXXX"
	TestHostname     = "example.com"
)

// Siteverify's error codes.
const (
	CodeMissingSecret      = "missing-input-secret"
	CodeInvalidSecret      = "invalid-input-secret"
	CodeMissingResponse    = "missing-input-response"
	CodeInvalidResponse    = "invalid-input-response"
	CodeBadRequest         = "bad-request"
	CodeTimeoutOrDuplicate = "timeout-or-duplicate"
	CodeInternalError      = "internal-error"
)

// Query is what a siteverify request asks: its form (or JSON) fields.
type Query struct {
	Secret         string // secret
	Response       string // response: the token
	RemoteIP       string // remoteip (optional; not checked)
	IdempotencyKey string // idempotency_key (optional; a UUID)
}

// QueryFrom picks a Query out of a request's fields.
func QueryFrom(fields url.Values) Query {
	return Query{
		Secret:         fields.Get("secret"),
		Response:       fields.Get("response"),
		RemoteIP:       fields.Get("remoteip"),
		IdempotencyKey: fields.Get("idempotency_key"),
	}
}

// Answer is siteverify's JSON answer.
type Answer struct {
	Success     bool     `json:"success"`
	ChallengeTS string   `json:"challenge_ts,omitempty"` // when the challenge was solved, RFC 3339
	Hostname    string   `json:"hostname,omitempty"`     // the host of the page it was solved on
	ErrorCodes  []string `json:"error-codes"`            // never null, as Cloudflare's
	Action      string   `json:"action,omitempty"`
	CData       string   `json:"cdata,omitempty"`
}

// maxTokens bounds the tokens kept in memory; the oldest go first.
const maxTokens = 10000

// keepFor is how long a token's record is kept after it was issued: past
// its TTL, so that a consumed token's idempotent retry still gets its first
// answer. A token whose record is gone is still known by its MAC, and
// answered timeout-or-duplicate.
const keepFor = 2 * TokenTTL

// record is one issued token.
type record struct {
	hostname string
	issued   time.Time
	consumed bool
	idemKey  string // the idempotency_key of the verification that consumed it
	answer   Answer // that verification's answer
}

// Verifier is the logic of siteverify that the dev server's stand-in and
// the tests' fake share: it issues tokens and verifies each once, within
// TokenTTL of its issue, for the secrets it was given (Cloudflare's test
// secret keys behave as documented when given). A retry with the same
// idempotency_key as the verification that consumed a token gets that
// verification's answer again. It is safe for concurrent use.
type Verifier struct {
	now     func() time.Time
	secrets map[string]bool
	macKey  [32]byte

	mu     sync.Mutex
	tokens map[string]*record
	order  []string // tokens in the order issued
}

// NewVerifier returns a Verifier that accepts the given secret keys and
// reads the time from now (time.Now when nil).
func NewVerifier(now func() time.Time, secrets ...string) *Verifier {
	if now == nil {
		now = time.Now
	}
	v := &Verifier{now: now, secrets: map[string]bool{}, tokens: map[string]*record{}}
	for _, s := range secrets {
		if s != "" {
			v.secrets[s] = true
		}
	}
	rand.Read(v.macKey[:])
	return v
}

// tokenPrefix starts every token the Verifier issues.
const tokenPrefix = "standin."

// Issue returns a new token, solved on hostname, that Verify accepts once
// within TokenTTL.
func (v *Verifier) Issue(hostname string) string {
	now := v.now()
	var raw [24]byte
	rand.Read(raw[:16])
	binary.BigEndian.PutUint64(raw[16:], uint64(now.UnixNano()))
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(append(raw[:], v.mac(raw[:])...))
	v.mu.Lock()
	defer v.mu.Unlock()
	v.prune(now)
	v.tokens[token] = &record{hostname: hostname, issued: now}
	v.order = append(v.order, token)
	return token
}

func (v *Verifier) mac(data []byte) []byte {
	m := hmac.New(sha256.New, v.macKey[:])
	m.Write(data)
	return m.Sum(nil)[:16]
}

// issuedHere reports whether token has this Verifier's MAC: issued here,
// whether or not its record is still kept.
func (v *Verifier) issuedHere(token string) bool {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(raw) != 40 {
		return false
	}
	return hmac.Equal(raw[24:], v.mac(raw[:24]))
}

// prune drops the records past keepFor, and the oldest beyond maxTokens.
// v.mu is held.
func (v *Verifier) prune(now time.Time) {
	n := 0
	for n < len(v.order) {
		r := v.tokens[v.order[n]]
		if len(v.order)-n < maxTokens && now.Sub(r.issued) <= keepFor {
			break
		}
		delete(v.tokens, v.order[n])
		n++
	}
	v.order = v.order[n:]
}

// Verify answers q as siteverify does.
func (v *Verifier) Verify(q Query) Answer {
	now := v.now()
	var codes []string
	switch {
	case q.Secret == "":
		codes = append(codes, CodeMissingSecret)
	case !v.secrets[q.Secret]:
		codes = append(codes, CodeInvalidSecret)
	}
	if q.Response == "" {
		codes = append(codes, CodeMissingResponse)
	}
	if q.IdempotencyKey != "" && !IsUUID(q.IdempotencyKey) {
		codes = append(codes, CodeBadRequest)
	}
	if codes != nil {
		return Failure(codes...)
	}
	switch q.Secret {
	case TestSecretPass:
		return Answer{Success: true, ChallengeTS: timestamp(now), Hostname: TestHostname, ErrorCodes: []string{}}
	case TestSecretFail:
		return Failure(CodeInvalidResponse)
	case TestSecretSpent:
		return Failure(CodeTimeoutOrDuplicate)
	}
	if len(q.Response) > MaxTokenLength {
		return Failure(CodeInvalidResponse)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	r := v.tokens[q.Response]
	switch {
	case r == nil && v.issuedHere(q.Response):
		// Issued here, and its record dropped long after it expired.
		return Failure(CodeTimeoutOrDuplicate)
	case r == nil:
		return Failure(CodeInvalidResponse)
	case r.consumed && q.IdempotencyKey != "" && q.IdempotencyKey == r.idemKey:
		return r.answer
	case r.consumed:
		return Failure(CodeTimeoutOrDuplicate)
	}
	var a Answer
	if now.Sub(r.issued) > TokenTTL {
		a = Failure(CodeTimeoutOrDuplicate)
	} else {
		a = Answer{Success: true, ChallengeTS: timestamp(r.issued), Hostname: r.hostname, ErrorCodes: []string{}}
	}
	r.consumed, r.idemKey, r.answer = true, q.IdempotencyKey, a
	return a
}

// Failure is an answer with success false and codes.
func Failure(codes ...string) Answer {
	return Answer{ErrorCodes: append([]string{}, codes...)}
}

func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// IsUUID reports whether s is a UUID in its textual form
// (8-4-4-4-12 hexadecimal digits).
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// ReadFields reads a siteverify request's body, form-encoded or (with
// Content-Type application/json) a JSON object of strings, at most
// MaxBodyBytes. An error means a bad request.
func ReadFields(r *http.Request) (url.Values, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if len(body) > MaxBodyBytes {
		return nil, fmt.Errorf("body over %d bytes", MaxBodyBytes)
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		return url.ParseQuery(string(body))
	}
	var obj map[string]any
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, fmt.Errorf("json body: %w", err)
	}
	fields := url.Values{}
	for k, val := range obj {
		s, ok := val.(string)
		if !ok {
			return nil, errors.New("json body: field " + k + " is not a string")
		}
		fields.Set(k, s)
	}
	return fields, nil
}

// WriteAnswer writes a as siteverify's JSON answer, status 200.
func WriteAnswer(w http.ResponseWriter, a Answer) {
	if a.ErrorCodes == nil {
		a.ErrorCodes = []string{}
	}
	body, _ := json.Marshal(a)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(body)
}

// ServeHTTP answers siteverify: POST only, form or JSON fields.
func (v *Verifier) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusMethodNotAllowed)
		json.NewEncoder(w).Encode(Failure(CodeBadRequest))
		return
	}
	fields, err := ReadFields(r)
	if err != nil {
		WriteAnswer(w, Failure(CodeBadRequest))
		return
	}
	WriteAnswer(w, v.Verify(QueryFrom(fields)))
}
