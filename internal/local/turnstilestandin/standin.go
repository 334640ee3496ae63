// Package turnstilestandin stands in for Cloudflare Turnstile when the dev
// server runs with BOT_CHECK=turnstile, so that the whole bot check runs on
// one machine with no Cloudflare account and no network. Its Handler serves
// a look-alike of Turnstile's widget script (ScriptPath), the endpoint that
// widget takes its tokens from (TokenPath), and siteverify (SiteverifyPath)
// for those tokens: each verifies once, within TokenTTL of its issue, and
// only with the stand-in's secret key.
//
// Its Verifier, the token logic, is shared with the tests' fake siteverify
// (internal/testonly/faketurnstile).
package turnstilestandin

import (
	_ "embed"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The paths the Handler serves; mount it at PathPrefix. The script and
// siteverify have the paths of Cloudflare's
// (https://challenges.cloudflare.com/turnstile/v0/...).
const (
	PathPrefix     = "/turnstile/"
	ScriptPath     = "/turnstile/v0/api.js"
	SiteverifyPath = "/turnstile/v0/siteverify"
	// TokenPath is where the widget asks for a token (POST, form fields
	// sitekey and hostname); the script finds it relative to its own URL.
	TokenPath = "/turnstile/token"
)

// DefaultSecret is the secret key the stand-in's siteverify accepts when
// Config names none. It is not one of Cloudflare's test secret keys, so the
// stand-in's tokens are checked as a real secret's would be.
const DefaultSecret = "local-turnstile-stand-in-secret"

// DefaultSiteKey is a site key for pages that use the stand-in. The
// stand-in accepts any site key; Cloudflare's test site keys behave as
// documented (TestSiteKeyBlock fails, the others hand out DummyToken).
const DefaultSiteKey = "local-turnstile-stand-in-site-key"

//go:embed api.js
var script []byte

// Script returns the widget script the Handler serves at ScriptPath.
func Script() []byte { return append([]byte(nil), script...) }

// Config configures a Handler.
type Config struct {
	// Secret is the one secret key siteverify accepts (DefaultSecret when
	// empty). A Cloudflare test secret key behaves as documented.
	Secret string
	// Now reads the clock (time.Now when nil); tests move it.
	Now func() time.Time
}

// Handler is the stand-in: an http.Handler for the paths above.
type Handler struct {
	secret   string
	verifier *Verifier
	mux      *http.ServeMux
}

// New returns the stand-in for cfg.
func New(cfg Config) *Handler {
	secret := cfg.Secret
	if secret == "" {
		secret = DefaultSecret
	}
	h := &Handler{secret: secret, verifier: NewVerifier(cfg.Now, secret), mux: http.NewServeMux()}
	h.mux.HandleFunc("GET "+ScriptPath, serveScript)
	h.mux.HandleFunc("POST "+TokenPath, h.serveToken)
	h.mux.HandleFunc("OPTIONS "+TokenPath, servePreflight)
	h.mux.Handle(SiteverifyPath, h.verifier)
	return h
}

// Secret is the secret key siteverify accepts.
func (h *Handler) Secret() string { return h.secret }

// Verifier is the stand-in's token logic.
func (h *Handler) Verifier() *Verifier { return h.verifier }

// Issue returns a token solved on hostname, as the widget would get one.
func (h *Handler) Issue(hostname string) string { return h.verifier.Issue(hostname) }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// serveScript serves the widget script: for a script tag on another
// origin, never cached (it changes with the code).
func serveScript(w http.ResponseWriter, _ *http.Request) {
	hd := w.Header()
	hd.Set("Content-Type", "text/javascript; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Access-Control-Allow-Origin", "*")
	hd.Set("Cross-Origin-Resource-Policy", "cross-origin")
	w.Write(script)
}

// servePreflight allows the token request from any origin, without
// credentials. (The script sends a form, which needs no preflight; this
// answers one all the same.)
func servePreflight(w http.ResponseWriter, _ *http.Request) {
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", "*")
	hd.Set("Access-Control-Allow-Methods", "POST")
	hd.Set("Access-Control-Allow-Headers", "Content-Type")
	hd.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

// tokenAnswer is TokenPath's JSON answer.
type tokenAnswer struct {
	Token     string `json:"token,omitempty"`
	ExpiresIn int    `json:"expiresIn,omitempty"` // seconds
	Error     string `json:"error,omitempty"`
}

// serveToken hands the widget a token for the page's hostname: the
// Origin header's (what the browser vouches for), else the form's.
func (h *Handler) serveToken(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", "*")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Type", "application/json")
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<10))
	form, perr := url.ParseQuery(string(body))
	if err != nil || perr != nil {
		writeToken(w, http.StatusBadRequest, tokenAnswer{Error: "the body is not a form"})
		return
	}
	hostname := originHostname(r.Header.Get("Origin"))
	if hostname == "" {
		hostname = form.Get("hostname")
	}
	if !validHostname(hostname) {
		writeToken(w, http.StatusBadRequest, tokenAnswer{Error: "no valid hostname (Origin header or form field hostname)"})
		return
	}
	sitekey := form.Get("sitekey")
	if isTestSiteKey(sitekey) {
		if sitekey[0] == '2' {
			writeToken(w, http.StatusForbidden, tokenAnswer{Error: "the test site key " + sitekey + " always blocks"})
			return
		}
		writeToken(w, http.StatusOK, tokenAnswer{Token: DummyToken, ExpiresIn: int(TokenTTL / time.Second)})
		return
	}
	writeToken(w, http.StatusOK, tokenAnswer{Token: h.verifier.Issue(hostname), ExpiresIn: int(TokenTTL / time.Second)})
}

func writeToken(w http.ResponseWriter, status int, a tokenAnswer) {
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(a)
}

// originHostname is the hostname of an Origin header, "" for none or
// "null".
func originHostname(origin string) string {
	if origin == "" || origin == "null" {
		return ""
	}
	u, err := url.Parse(origin)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// validHostname accepts what a page's location.hostname can be: a DNS
// name or an IP address (IPv6 without brackets).
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	return !strings.ContainsFunc(h, func(c rune) bool {
		return !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == ':' || c == '_')
	})
}

// isTestSiteKey reports whether k has the form of Cloudflare's test site
// keys: 1x, 2x or 3x, twenty zeros, two letters.
func isTestSiteKey(k string) bool {
	return len(k) == 24 && k[1] == 'x' && k[0] >= '1' && k[0] <= '3' && k[2:22] == strings.Repeat("0", 20)
}
