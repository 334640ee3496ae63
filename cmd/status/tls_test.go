package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/complycube-session/createsession/internal/testonly/dynalite"
	"github.com/complycube-session/createsession/internal/testonly/lambdaemu"
)

// TestVerifiesTheTablesCertificate runs the real status bootstrap under
// the emulator against DynamoDB over TLS: with a certificate the
// machine's roots do not hold, it refuses the connection (503, the table
// unreadable); with the same certificate in the bundle named by
// SSL_CERT_FILE, as the template sets it, it reaches the table (an
// unknown token's 404). The roots are read as Go reads them, and parsed
// only as the chain needs (internal/lambda/truststore).
func TestVerifiesTheTablesCertificate(t *testing.T) {
	rie := lambdaemu.RIEForTest(t)
	bootstrap := lambdaemu.BuildFunctionForTest(t, "StatusFunction")
	db := dynalite.Start(t)
	db.CreateTable(t, "tls-state")
	target, _ := url.Parse(db.URL())
	proxy := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(target))
	t.Cleanup(proxy.Close)
	bundle := filepath.Join(t.TempDir(), "bundle.pem")
	if err := os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: proxy.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	ask := func(extra ...string) events.APIGatewayV2HTTPResponse {
		t.Helper()
		env := append(lambdaemu.AWSEnv("http://127.0.0.1:1"), "STATE_TABLE=tls-state", "AWS_ENDPOINT_URL_DYNAMODB="+proxy.URL,
			"ALLOWED_ORIGINS="+e2eOrigin, "AWS_LAMBDA_FUNCTION_NAME=StatusFunction")
		emu, err := lambdaemu.Start(rie, bootstrap, append(env, extra...))
		if err != nil {
			t.Fatal(err)
		}
		defer emu.Stop()
		ev, _ := json.Marshal(events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: "/sessions/status", Body: `{"statusToken":"AAAAAAAAAAAAAAAAAAAAAA"}`,
			Headers:        map[string]string{"content-type": "application/json", "origin": e2eOrigin},
			RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST"}}})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := emu.Invoke(ctx, ev)
		if err != nil {
			t.Fatalf("invoke: %v", err)
		}
		var r events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("not an HTTP API response: %s", out)
		}
		if r.StatusCode == 503 && !strings.Contains(emu.Output(), "certificate") {
			t.Logf("output:\n%s", emu.Output())
		}
		return r
	}
	if r := ask(); r.StatusCode != 503 {
		t.Errorf("a table whose certificate no trusted root signs: %d %s, want 503", r.StatusCode, r.Body)
	}
	if r := ask("SSL_CERT_FILE="+bundle, "SSL_CERT_DIR=/nonexistent"); r.StatusCode != 404 {
		t.Errorf("the certificate in SSL_CERT_FILE's bundle: %d %s, want 404 (the table reached)", r.StatusCode, r.Body)
	}
}
