package api

import (
	"net/http"
	"time"
)

// DeadlineMargin is how long before the invocation's deadline a core stops
// waiting and answers, so that its own JSON reaches the caller before the
// Lambda runtime kills the invocation.
const DeadlineMargin = 300 * time.Millisecond

// Request is a transport-neutral HTTP request: the API Gateway adapter and
// the dev server build one from their own shapes.
type Request struct {
	Method string
	// Header holds the request's headers; Get is case-insensitive.
	Header http.Header
	// Body is the decoded body (base64 already undone).
	Body []byte
	// BadEncoding is set when the event marked the body base64 but it did
	// not decode.
	BadEncoding bool
	// RequestID identifies the invocation in logs (Lambda's request ID).
	RequestID string
	// Path is logged only.
	Path string
	// SourceIP is the address the API saw the request come from (API
	// Gateway's requestContext), never a header a caller can write; empty
	// when the event carries none.
	SourceIP string
}

// Response is a transport-neutral answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}
