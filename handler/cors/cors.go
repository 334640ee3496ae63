package cors

import (
	"fmt"
	"mime"
	"net/http"

	"github.com/complycube-session/createsession/handler/api"
)

// The answer to a preflight: POST with a JSON body, cached two hours.
const (
	allowMethods = "POST, OPTIONS"
	allowHeaders = "Content-Type"
	maxAge       = "7200"
	// Allow is the Allow header of a 405 and of OPTIONS.
	Allow = "OPTIONS, POST"
)

// Check returns the request's Origin header to echo back when allowed
// lets it call; present reports whether the request had an Origin header
// at all (a request without one is no browser cross-origin call, and CORS
// does not apply).
func Check(allowed List, req api.Request) (origin string, ok, present bool) {
	values := req.Header.Values("Origin")
	if len(values) == 0 {
		return "", false, false
	}
	raw := values[0]
	if len(values) > 1 || raw == "" {
		return "", false, true
	}
	if allowed.AnyOrigin {
		// Echo only what is safe in a header; "null" and odd values
		// included as they are, since * is for development.
		return raw, IsPrintableASCII(raw), true
	}
	o, err := ParseOrigin(raw)
	if err != nil || !allowed.Allows(o) {
		return "", false, true
	}
	return raw, true, true
}

// AddHeaders adds Access-Control-Allow-Origin to an answer for an allowed
// origin, errors included, so that the browser lets the page read them;
// every answer varies by Origin. A 429 or 503 also exposes Retry-After,
// which a cross-origin page cannot read otherwise, so that it can say how
// long to wait.
func AddHeaders(resp api.Response, origin string, allowed bool) {
	resp.Header.Set("Vary", "Origin")
	if allowed {
		resp.Header.Set("Access-Control-Allow-Origin", origin)
		if resp.Header.Get("Retry-After") != "" {
			resp.Header.Set("Access-Control-Expose-Headers", "Retry-After")
		}
	}
}

// Preflight is the answer to OPTIONS; the CORS members only when the
// request came from a browser (it had an Origin header).
func Preflight(fromBrowser bool) api.Response {
	r := api.Response{Status: http.StatusNoContent, Header: api.BaseHeader()}
	if fromBrowser {
		r.Header.Set("Access-Control-Allow-Methods", allowMethods)
		r.Header.Set("Access-Control-Allow-Headers", allowHeaders)
		r.Header.Set("Access-Control-Max-Age", maxAge)
	}
	r.Header.Set("Allow", Allow)
	return r
}

// LogOrigin is the Origin header as a log line may hold it: cut to 200
// bytes, so that a caller cannot make a refused request write a long line.
func LogOrigin(raw string) string {
	const max = 200
	if len(raw) <= max {
		return raw
	}
	return raw[:max] + "…"
}

// Gate applies, in order, the rules every browser-facing JSON POST
// endpoint shares (/sessions and /sessions/status): an Origin that is not
// allowed (403), a preflight (204), another method (405), another media
// type (415), a body over maxBody (413), a body marked base64 that is not
// (400). stop is true when resp is the answer; errType is its error type.
func Gate(originAllowed, fromBrowser bool, req api.Request, maxBody int) (resp api.Response, errType string, stop bool) {
	refuse := func(status int, typ, message string) (api.Response, string, bool) {
		return api.ErrorResponse(status, api.Error{Type: typ, Message: message}), typ, true
	}
	if fromBrowser && !originAllowed {
		return refuse(http.StatusForbidden, api.TypeOriginNotAllowed, "This origin may not call this endpoint.")
	}
	switch req.Method {
	case http.MethodOptions:
		return Preflight(fromBrowser), "", true
	case http.MethodPost:
	default:
		resp, typ, _ := refuse(http.StatusMethodNotAllowed, api.TypeMethodNotAllowed, "Only POST is allowed.")
		resp.Header.Set("Allow", Allow)
		return resp, typ, true
	}
	if mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return refuse(http.StatusUnsupportedMediaType, api.TypeUnsupportedMediaType, "Content-Type must be application/json.")
	}
	if len(req.Body) > maxBody {
		return refuse(http.StatusRequestEntityTooLarge, api.TypeRequestTooLarge, fmt.Sprintf("The body is larger than %d KiB.", maxBody>>10))
	}
	if req.BadEncoding {
		return refuse(http.StatusBadRequest, api.TypeInvalidRequest, "The body is marked base64 but is not valid base64.")
	}
	return api.Response{}, "", false
}
