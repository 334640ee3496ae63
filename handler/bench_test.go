package handler_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/complycube-session/createsession/handler"
	"github.com/complycube-session/createsession/internal/lambda/apigateway"
	"github.com/complycube-session/createsession/internal/lambda/complycube"
	"github.com/complycube-session/createsession/internal/lambda/emf"
	"github.com/complycube-session/createsession/internal/lambda/memstate"
	"github.com/complycube-session/createsession/internal/lambda/outbound"
	"github.com/complycube-session/createsession/internal/lambda/sessionfn"
)

// benchUpstream is a fake ComplyCube that answers at once.
func benchUpstream(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"redirectUrl":"`+sessionURL+`"}`)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkWarmRequest is a whole warm request: the HTTP API event in,
// decoding, CORS, validation, the ComplyCube call on a kept-alive
// connection, the answer mapping, the log line, the response out.
// BenchmarkBarePost is the ComplyCube call alone; the difference is what
// the function adds.
func BenchmarkWarmRequest(b *testing.B) {
	srv := benchUpstream(b)
	cfg, err := sessionfn.LoadConfig(func(k string) string {
		return map[string]string{"ALLOWED_ORIGINS": allowed, "COMPLYCUBE_BASE_URL": srv.URL}[k]
	})
	if err != nil {
		b.Fatal(err)
	}
	client, _ := complycube.New(complycube.Config{BaseURL: srv.URL, Timeout: 5 * time.Second})
	h := handler.NewSessionStarter(cfg.Config, staticKeys(apiKey), client, memstate.New(), nil, emf.New(slog.New(slog.NewJSONHandler(io.Discard, nil)), "", staticKeys(apiKey).HashKey))
	l := apigateway.Lambda{Handler: h, Log: slog.Default()}
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "POST /sessions", RawPath: "/sessions", Body: validBody,
		Headers:        map[string]string{"origin": allowed, "content-type": "application/json", "accept": "*/*", "user-agent": "Mozilla/5.0", "host": "abc.execute-api.eu-west-1.amazonaws.com"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "r", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/sessions"}},
	}
	payload, _ := json.Marshal(ev)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: "bench"})
	want := []byte(`"statusCode":200`)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		out, err := l.Invoke(ctx, payload)
		if err != nil || !bytes.Contains(out, want) {
			b.Fatalf("%v %s", err, out)
		}
	}
}

func BenchmarkBarePost(b *testing.B) {
	srv := benchUpstream(b)
	client := &http.Client{Transport: outbound.Transport(&tls.Config{})}
	body := []byte(validBody)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/flow/sessions", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", apiKey)
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatal(res.StatusCode)
		}
	}
}

// BenchmarkHandlerOnly is the function's own work per request, with an
// in-memory ComplyCube: what BenchmarkWarmRequest adds to the network call
// when nothing else competes for the CPU.
func BenchmarkHandlerOnly(b *testing.B) {
	cfg, _ := sessionfn.LoadConfig(func(k string) string { return map[string]string{"ALLOWED_ORIGINS": allowed}[k] })
	up := &cannedUpstream{resp: handler.UpstreamResponse{Status: 200, Body: []byte(`{"redirectUrl":"` + sessionURL + `"}`)}}
	h := handler.NewSessionStarter(cfg.Config, staticKeys(apiKey), up, memstate.New(), nil, emf.New(slog.New(slog.NewJSONHandler(io.Discard, nil)), "", staticKeys(apiKey).HashKey))
	l := apigateway.Lambda{Handler: h, Log: slog.Default()}
	ev := events.APIGatewayV2HTTPRequest{Version: "2.0", Body: validBody, Headers: map[string]string{"origin": allowed, "content-type": "application/json"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST"}}}
	payload, _ := json.Marshal(ev)
	b.ReportAllocs()
	for b.Loop() {
		if out, err := l.Invoke(context.Background(), payload); err != nil || !strings.Contains(string(out), `"statusCode":200`) {
			b.Fatalf("%v %s", err, out)
		}
	}
}
