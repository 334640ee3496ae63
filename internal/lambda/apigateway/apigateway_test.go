package apigateway

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// TestUnencodableFallback: the answer Invoke falls back to is a valid
// HTTP API response.
func TestUnencodableFallback(t *testing.T) {
	var r events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(unencodableResponse, &r); err != nil || r.StatusCode != 500 || !json.Valid([]byte(r.Body)) || r.Headers["Cache-Control"] != "no-store" {
		t.Fatalf("%v %+v", err, r)
	}
}
