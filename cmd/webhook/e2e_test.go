package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/complycube-session/createsession/handler/webhook"
	"github.com/complycube-session/createsession/internal/testonly/fakesecretsmanager"
	"github.com/complycube-session/createsession/internal/testonly/fakesns"
	"github.com/complycube-session/createsession/internal/testonly/lambdaemu"
)

const (
	e2eWebhookSecret = "whsec_ZTJlLXdlYmhvb2stc2VjcmV0LW5ldmVyLWxvZ2dlZA"
	e2eSecretID      = "e2e/complycube"
	e2eTopic         = "arn:aws:sns:eu-west-1:123456789012:e2e-alerts"
)

// TestWebhookUnderEmulator runs the real webhook bootstrap under the Lambda
// Runtime Interface Emulator with a fake Secrets Manager and a fake SNS
// reached through the real SDK: a signed event is published once, a forged
// one is refused and published nowhere.
func TestWebhookUnderEmulator(t *testing.T) {
	rie := lambdaemu.RIEForTest(t)
	bootstrap := lambdaemu.BuildFunctionForTest(t, "WebhookFunction")
	sm := fakesecretsmanager.Start()
	defer sm.Close()
	sm.SetSecret(e2eSecretID, `{"apiKey":"test_e2e","webhookSecret":"`+e2eWebhookSecret+`"}`)
	sns := fakesns.Start()
	defer sns.Close()
	env := append(lambdaemu.AWSEnv(sm.URL()), "AWS_ENDPOINT_URL_SNS="+sns.URL(), "COMPLYCUBE_SECRET_ID="+e2eSecretID, "ALERT_TOPIC_ARN="+e2eTopic)
	emu, err := lambdaemu.Start(rie, bootstrap, env)
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Stop()

	deliver := func(body, signature string) events.APIGatewayV2HTTPResponse {
		ev, _ := json.Marshal(events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: "/webhooks", Body: body,
			Headers:        map[string]string{"content-type": "application/json", "complycube-signature": signature},
			RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/webhooks"}}})
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
		return r
	}
	event := `{"id":"evt_e2e_1","type":"workflow.session.completed","resourceType":"workflowSession","createdAt":"2026-12-01T10:00:00Z","payload":{"id":"wfs_1","clientId":"5eb04fcd0f3e360008035eb1","status":"completed","outcome":"clear","client":{"firstName":"Hedy","lastName":"Lamarr"}}}`
	if r := deliver(event, webhook.Sign(e2eWebhookSecret, []byte(event))); r.StatusCode != 200 {
		t.Fatalf("signed event: %d %s", r.StatusCode, r.Body)
	}
	forged := strings.Replace(event, "evt_e2e_1", "evt_e2e_2", 1)
	if r := deliver(forged, webhook.Sign("not-the-secret", []byte(forged))); r.StatusCode != 401 {
		t.Errorf("forged event: %d %s", r.StatusCode, r.Body)
	}
	msgs := sns.Published()
	if len(msgs) != 1 || msgs[0].TopicARN != e2eTopic || !strings.Contains(msgs[0].Message, `"id": "evt_e2e_1"`) || !strings.Contains(msgs[0].Subject, "workflow.session.completed") {
		t.Fatalf("published %+v", msgs)
	}
	if strings.Contains(msgs[0].Message, "Lamarr") {
		t.Error("the message carries the person's name")
	}
	out := emu.Output()
	if strings.Contains(out, e2eWebhookSecret) || strings.Contains(out, "Lamarr") {
		t.Error("the webhook secret or the person's name is in the function's output")
	}
}
