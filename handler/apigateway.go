package handler

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Lambda adapts Handler to the Lambda runtime. It accepts API Gateway HTTP
// API events (payload format 2.0, also sent by Lambda function URLs) and REST
// API proxy events (payload format 1.0), and answers each in its own
// response format. It implements lambda.Handler, so the runtime hands it the
// raw payload and no reflection is involved.
type Lambda struct {
	Handler *Handler
}

// eventProbe is just enough of an event to tell the two formats apart.
type eventProbe struct {
	Version    string `json:"version"`
	HTTPMethod string `json:"httpMethod"`
}

// Invoke answers one event. It never returns an error: whatever the payload,
// the caller gets an HTTP answer.
func (l Lambda) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var probe eventProbe
	_ = json.Unmarshal(payload, &probe)
	requestID := ""
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		requestID = lc.AwsRequestID
	}
	if probe.Version != "2.0" && probe.HTTPMethod != "" {
		var ev events.APIGatewayProxyRequest
		req := Request{Path: notAnEvent}
		if json.Unmarshal(payload, &ev) == nil {
			req = FromV1(ev)
		}
		req.RequestID = requestID
		return json.Marshal(ToV1(l.Handler.Serve(ctx, req)))
	}
	var ev events.APIGatewayV2HTTPRequest
	req := Request{Path: notAnEvent}
	if json.Unmarshal(payload, &ev) == nil && ev.RequestContext.HTTP.Method != "" {
		req = FromV2(ev)
	}
	req.RequestID = requestID
	return json.Marshal(ToV2(l.Handler.Serve(ctx, req)))
}

// notAnEvent is logged as the path of a payload that is not an API Gateway
// event; it has no method and so is answered 405.
const notAnEvent = "(not an API Gateway event)"

// FromV2 converts an HTTP API (2.0) event.
func FromV2(ev events.APIGatewayV2HTTPRequest) Request {
	h := make(http.Header, len(ev.Headers))
	for k, v := range ev.Headers {
		// HTTP API joins repeated headers with commas already.
		h.Add(k, v)
	}
	body, bad := decodeBody(ev.Body, ev.IsBase64Encoded)
	return Request{Method: strings.ToUpper(ev.RequestContext.HTTP.Method), Header: h, Body: body, BadEncoding: bad, Path: ev.RawPath}
}

// FromV1 converts a REST API proxy (1.0) event.
func FromV1(ev events.APIGatewayProxyRequest) Request {
	h := make(http.Header, len(ev.Headers))
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
	body, bad := decodeBody(ev.Body, ev.IsBase64Encoded)
	return Request{Method: strings.ToUpper(ev.HTTPMethod), Header: h, Body: body, BadEncoding: bad, Path: ev.Path}
}

// maxEncodedBody is the length of base64 text that decodes to just over
// MaxBodyBytes: a longer body is decoded only that far, which is enough for
// the handler to refuse it as too large without decoding megabytes.
const maxEncodedBody = (MaxBodyBytes+2)/3*4 + 4

// decodeBody undoes base64 when the event says so; bad reports text that is
// not base64.
func decodeBody(body string, isBase64 bool) (data []byte, bad bool) {
	if !isBase64 {
		return []byte(body), false
	}
	if len(body) > maxEncodedBody {
		body = body[:maxEncodedBody]
	}
	data, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, true
	}
	return data, false
}

// ToV2 converts an answer to the HTTP API (2.0) response format.
func ToV2(r Response) events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{StatusCode: r.Status, Headers: flatten(r.Header), Body: string(r.Body)}
}

// ToV1 converts an answer to the REST API proxy (1.0) response format.
func ToV1(r Response) events.APIGatewayProxyResponse {
	return events.APIGatewayProxyResponse{StatusCode: r.Status, Headers: flatten(r.Header), Body: string(r.Body)}
}

func flatten(h http.Header) map[string]string {
	m := make(map[string]string, len(h))
	for k, vs := range h {
		m[k] = strings.Join(vs, ", ")
	}
	return m
}
