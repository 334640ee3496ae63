// Command baseline is the create-session function written the usual way, for
// the benchmark to compare against: main reads the secret with the AWS SDK,
// then starts the runtime; each request makes its ComplyCube call on a fresh
// http.Client, so the first one dials and handshakes after init. It does no
// CORS and little validation: it is a yardstick, not a product.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

func main() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	id := os.Getenv("COMPLYCUBE_SECRET_ID")
	out, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &id})
	if err != nil {
		log.Fatal(err)
	}
	key := strings.TrimSpace(*out.SecretString)
	base := os.Getenv("COMPLYCUBE_BASE_URL")

	lambda.Start(func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		var body map[string]any
		if err := json.Unmarshal([]byte(ev.Body), &body); err != nil {
			return events.APIGatewayV2HTTPResponse{StatusCode: 400, Body: `{"type":"invalid_request"}`}, nil
		}
		payload, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/flow/sessions", bytes.NewReader(payload))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", key)
		client := &http.Client{}
		res, err := client.Do(req)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{StatusCode: 502, Body: `{"type":"upstream_error"}`}, nil
		}
		defer res.Body.Close()
		data, _ := io.ReadAll(res.Body)
		return events.APIGatewayV2HTTPResponse{StatusCode: res.StatusCode, Body: string(data), Headers: map[string]string{"Content-Type": "application/json"}}, nil
	})
}
