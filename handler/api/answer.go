package api

import (
	"encoding/json"
	"net/http"
)

// Error is ComplyCube's error shape, which the functions' own errors use.
type Error struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	Param   string `json:"param,omitempty"`
}

// Error types of the functions' own answers.
const (
	TypeOriginNotAllowed     = "origin_not_allowed"
	TypeMethodNotAllowed     = "method_not_allowed"
	TypeUnsupportedMediaType = "unsupported_media_type"
	TypeRequestTooLarge      = "request_too_large"
	TypeInvalidRequest       = "invalid_request"
	TypeRateLimitExceeded    = "rate_limit_exceeded"
	TypeUpstreamError        = "upstream_error"
	TypeUpstreamTimeout      = "upstream_timeout"
	TypeServiceUnavailable   = "service_unavailable"
	TypeInternalError        = "internal_error"
)

// BaseHeader is what every answer carries: an answer is for one person and
// one moment, never for a cache.
func BaseHeader() http.Header {
	return http.Header{"Cache-Control": {"no-store"}}
}

// JSONResponse is an answer with a JSON body and the base headers.
func JSONResponse(status int, body []byte) Response {
	h := BaseHeader()
	h.Set("Content-Type", "application/json")
	return Response{Status: status, Header: h, Body: body}
}

// ErrorResponse is an answer in the error shape.
func ErrorResponse(status int, e Error) Response {
	data, _ := json.Marshal(e)
	return JSONResponse(status, data)
}

// ValidID reports whether s has the form of a ComplyCube ID that this
// endpoint accepts (client and workflow template IDs): 1 to 128 letters,
// digits, '_' or '-'.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
