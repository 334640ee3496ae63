// Package localhttp serves a Lambda function over plain HTTP the way API
// Gateway's HTTP API does, for the dev server. It never ships in a bootstrap.
package localhttp

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/complycube-session/createsession/internal/lambda/apigateway"
)

// maxLocalBody is what the local server reads of a body: more than any
// function accepts, so that the function itself answers 413 as on AWS.
const maxLocalBody = 1 << 20

// Server serves a Lambda over plain HTTP the way API Gateway's HTTP API
// does: each request becomes a payload-format 2.0 event, goes through the
// same Invoke as on AWS, and its 2.0 response is written back. The dev
// server uses it so that local runs exercise the real event conversion.
type Server struct {
	Lambda apigateway.Lambda
	// Timeout is the invocation's time limit, as the function's Timeout on
	// AWS; the handler answers before it runs out.
	Timeout time.Duration
}

func (s Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxLocalBody))
	if err != nil {
		http.Error(w, `{"type":"invalid_request","message":"The body could not be read."}`, http.StatusBadRequest)
		return
	}
	payload, err := json.Marshal(EventFromHTTP(r, body))
	if err != nil {
		http.Error(w, `{"type":"internal_error","message":"The request could not be handled."}`, http.StatusInternalServerError)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.Timeout)
	defer cancel()
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: newRequestID()})
	out, _ := s.Lambda.Invoke(ctx, payload)
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		http.Error(w, `{"type":"internal_error","message":"The request could not be handled."}`, http.StatusInternalServerError)
		return
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	w.WriteHeader(resp.StatusCode)
	io.WriteString(w, resp.Body)
}

// EventFromHTTP builds the HTTP API (2.0) event API Gateway would send for r.
func EventFromHTTP(r *http.Request, body []byte) events.APIGatewayV2HTTPRequest {
	headers := make(map[string]string, len(r.Header))
	for k, vs := range r.Header {
		headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	if r.Host != "" {
		headers["host"] = r.Host
	}
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	now := time.Now()
	ev := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       r.Method + " " + r.URL.Path,
		RawPath:        r.URL.Path,
		RawQueryString: r.URL.RawQuery,
		Headers:        headers,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			AccountID:  "000000000000",
			APIID:      "local",
			DomainName: r.Host,
			Stage:      "$default",
			RequestID:  newRequestID(),
			Time:       now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:  now.UnixMilli(),
			RouteKey:   r.Method + " " + r.URL.Path,
			HTTP:       events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: r.Method, Path: r.URL.Path, Protocol: r.Proto, SourceIP: ip, UserAgent: r.UserAgent()},
		},
	}
	if utf8.Valid(body) {
		ev.Body = string(body)
	} else {
		// HTTP API hands binary bodies over base64-encoded.
		ev.Body = base64.StdEncoding.EncodeToString(body)
		ev.IsBase64Encoded = true
	}
	return ev
}

func newRequestID() string {
	b := make([]byte, 16)
	rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
