package simulator

import (
	"embed"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

//go:embed page.html
var pageFS embed.FS

var page = template.Must(template.ParseFS(pageFS, "page.html"))

// serveHostedPage answers under /session/: GET /session/{token} is the
// page; POST /session/{token}/complete and /cancel are its two buttons.
// The buttons change state (a webhook goes out), so they take POST only:
// a link prefetcher or a crawler that GETs them is answered 405 and
// nothing happens.
func (s *Simulator) serveHostedPage(w http.ResponseWriter, r *http.Request) {
	token, action, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/session/"), "/")
	switch action {
	case "":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "The hosted page takes GET only.", http.StatusMethodNotAllowed)
			return
		}
		s.hostedPage(w, r, token)
	case "complete", "cancel":
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "Complete and Cancel are buttons of the hosted page: they take POST only.", http.StatusMethodNotAllowed)
			return
		}
		s.finish(w, r, token, action)
	default:
		http.NotFound(w, r)
	}
}

// hostedPage shows the session's page, or a 404 page for an unknown token.
func (s *Simulator) hostedPage(w http.ResponseWriter, r *http.Request, token string) {
	ss, ok := s.Session(token)
	csp := "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'none'"
	if ok {
		csp = "default-src 'none'; style-src 'unsafe-inline'; " + formAction(ss) + "frame-ancestors 'none'"
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", csp)
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

// cspHost is a host (and port) that can stand in a CSP source expression
// as it is.
var cspHost = regexp.MustCompile(`^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]+)?$`)

// formAction is the page's CSP form-action directive, with its "; ": the
// page's forms post to the page's own origin ('self'), which then
// redirects to successUrl or cancelUrl, and browsers check that redirect
// against form-action too, so those two origins are allowed. When one
// cannot be written as a CSP source (an unusual host), the directive is
// left out rather than let the browser block the redirect.
func formAction(ss *Session) string {
	src := "'self'"
	for _, raw := range []string{ss.SuccessURL, ss.CancelURL} {
		u, err := url.Parse(raw)
		if err != nil || !cspHost.MatchString(u.Host) {
			return ""
		}
		if origin := u.Scheme + "://" + u.Host; !strings.Contains(src+" ", " "+origin+" ") {
			src += " " + origin
		}
	}
	return "form-action " + src + "; "
}

// finish is the hosted page's Complete or Cancel (a POST): the session's
// webhook goes out (workflow.session.completed or .cancelled), then the
// browser is sent (303 See Other) to successUrl or cancelUrl.
func (s *Simulator) finish(w http.ResponseWriter, r *http.Request, token, action string) {
	ss, ok := s.Session(token)
	if !ok {
		s.hostedPage(w, r, token)
		return
	}
	target := ss.SuccessURL
	if action == "cancel" {
		target = ss.CancelURL
	}
	s.notifyFinished(r.Context(), ss, action)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusSeeOther)
}
