// Package apigateway is the adapter between the Lambda runtime's API
// Gateway events and the core's transport-neutral Request and Response.
package apigateway

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"
	jsonv2 "github.com/go-json-experiment/json"

	"github.com/complycube-session/createsession/handler/api"
)

// Server is what the adapter feeds: a core that answers one Request.
// handler.SessionStarter, webhook.Receiver and status.Reader implement it.
type Server interface {
	Serve(ctx context.Context, req api.Request) api.Response
}

// Lambda adapts a Server to the Lambda runtime. It accepts API Gateway HTTP
// API events (payload format 2.0, also sent by Lambda function URLs) and REST
// API proxy events (payload format 1.0), and answers each in its own
// response format. It implements lambda.Handler, so the runtime hands it the
// raw payload and no reflection over handler signatures is involved.
type Lambda struct {
	Handler Server
	// Log receives the line for an answer that cannot be encoded.
	Log *slog.Logger
	// MaxBody is the largest body the Server accepts; a base64 body is
	// decoded only a little past it. Default DefaultMaxBody.
	MaxBody int
}

// DefaultMaxBody is the browser-facing functions' body limit (16 KiB).
const DefaultMaxBody = 16 << 10

// apiEvent holds the fields the function reads of either event format, so
// that a payload is decoded once, into a small struct, whatever its format.
// It is decoded with the JSON v2 prototype (go-json-experiment/json), which
// does this about 1.5 times as fast as encoding/json and rejects duplicate
// names and invalid UTF-8, which API Gateway never sends.
type apiEvent struct {
	Version         string            `json:"version"`
	Headers         map[string]string `json:"headers"`
	Body            string            `json:"body"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
	// Payload format 2.0.
	RawPath        string `json:"rawPath"`
	RequestContext struct {
		HTTP struct {
			Method   string `json:"method"`
			SourceIP string `json:"sourceIp"`
		} `json:"http"`
		// Payload format 1.0.
		Identity struct {
			SourceIP string `json:"sourceIp"`
		} `json:"identity"`
	} `json:"requestContext"`
	// Payload format 1.0.
	HTTPMethod        string              `json:"httpMethod"`
	Path              string              `json:"path"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
}

// apiResponse is the response both formats accept: 1.0 and 2.0 share these
// fields, and the function sets no cookies and no repeated headers.
type apiResponse struct {
	StatusCode      int               `json:"statusCode"`
	Headers         map[string]string `json:"headers"`
	Body            string            `json:"body"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
}

// Invoke answers one event. It never returns an error: whatever the payload,
// the caller gets an HTTP answer.
func (l Lambda) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	maxBody := l.MaxBody
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	req := decodeEvent(payload, maxBody)
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		req.RequestID = lc.AwsRequestID
	}
	resp := l.Handler.Serve(ctx, req)
	out, err := jsonv2.Marshal(apiResponse{StatusCode: resp.Status, Headers: flatten(resp.Header), Body: string(resp.Body)})
	if err != nil {
		// Never a Lambda error: a response that cannot be encoded (which the
		// handler is meant never to build) becomes a plain 500.
		l.Log.Error("response could not be encoded", "requestId", req.RequestID, "cause", err.Error())
		return unencodableResponse, nil
	}
	return out, nil
}

// unencodableResponse is the answer when a response cannot be encoded.
var unencodableResponse = []byte(`{"statusCode":500,"headers":{"Cache-Control":"no-store","Content-Type":"application/json"},"body":"{\"type\":\"internal_error\",\"message\":\"The request could not be handled.\"}","isBase64Encoded":false}`)

// notAnEvent is logged as the path of a payload that is not an API Gateway
// event; it has no method and so is answered 405.
const notAnEvent = "(not an API Gateway event)"

// decodeEvent converts an HTTP API (2.0) or REST API (1.0) event.
func decodeEvent(payload []byte, maxBody int) api.Request {
	var ev apiEvent
	if jsonv2.Unmarshal(payload, &ev) != nil {
		return api.Request{Path: notAnEvent, Header: http.Header{}}
	}
	h := make(http.Header, len(ev.Headers)+len(ev.MultiValueHeaders))
	var method, path, sourceIP string
	switch {
	case ev.Version == "2.0" && ev.RequestContext.HTTP.Method != "":
		// HTTP API joins repeated headers with commas already.
		for k, v := range ev.Headers {
			h.Add(k, v)
		}
		method, path, sourceIP = ev.RequestContext.HTTP.Method, ev.RawPath, ev.RequestContext.HTTP.SourceIP
	case ev.Version != "2.0" && ev.HTTPMethod != "":
		for k, vs := range ev.MultiValueHeaders {
			for _, v := range vs {
				h.Add(k, v)
			}
		}
		for k, v := range ev.Headers {
			if len(h.Values(k)) == 0 {
				h.Add(k, v)
			}
		}
		method, path, sourceIP = ev.HTTPMethod, ev.Path, ev.RequestContext.Identity.SourceIP
	default:
		return api.Request{Path: notAnEvent, Header: h}
	}
	body, bad := decodeBody(ev.Body, ev.IsBase64Encoded, maxBody)
	// The source address is the one API Gateway saw, never a header such
	// as X-Forwarded-For that a caller can write.
	return api.Request{Method: strings.ToUpper(method), Header: h, Body: body, BadEncoding: bad, Path: path, SourceIP: sourceIP}
}

// decodeBody undoes base64 when the event says so; bad reports text that is
// not base64. A base64 body is decoded only to just over maxBody bytes,
// which is enough for the core to refuse it as too large without decoding
// megabytes.
func decodeBody(body string, isBase64 bool, maxBody int) (data []byte, bad bool) {
	if !isBase64 {
		return []byte(body), false
	}
	if maxEncoded := (maxBody+2)/3*4 + 4; len(body) > maxEncoded {
		body = body[:maxEncoded]
	}
	data, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, true
	}
	return data, false
}

func flatten(h http.Header) map[string]string {
	m := make(map[string]string, len(h))
	for k, vs := range h {
		m[k] = strings.Join(vs, ", ")
	}
	return m
}
