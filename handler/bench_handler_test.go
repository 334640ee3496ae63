package handler_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/complycube-session/createsession/handler"
	"github.com/complycube-session/createsession/internal/complycube"
)

// BenchmarkHandlerOnly is the function's own work per request, with an
// in-memory ComplyCube: what BenchmarkWarmRequest adds to the network call
// when nothing else competes for the CPU.
func BenchmarkHandlerOnly(b *testing.B) {
	cfg, _ := handler.LoadConfig(func(k string) string { return map[string]string{"ALLOWED_ORIGINS": allowed}[k] })
	up := &cannedUpstream{resp: complycube.Response{Status: 200, Body: []byte(`{"redirectUrl":"` + sessionURL + `"}`)}}
	h := handler.New(cfg, staticKeys(apiKey), up, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	l := handler.Lambda{Handler: h}
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
