package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/complycube-session/createsession/handler/webhook"
	"github.com/complycube-session/createsession/internal/local/simulator"
	"github.com/complycube-session/createsession/internal/testonly/dynalite"
	"github.com/complycube-session/createsession/internal/testonly/fakesecretsmanager"
	"github.com/complycube-session/createsession/internal/testonly/fakesns"
	"github.com/complycube-session/createsession/internal/testonly/lambdaemu"
)

const (
	e2eKey           = "test_c3RhdHVzLWUyZS1rZXk"
	e2eWebhookSecret = "whsec_c3RhdHVzLWUyZS13ZWJob29rLXNlY3JldA"
	e2eSecretID      = "e2e/complycube"
	e2eTopic         = "arn:aws:sns:eu-west-1:123456789012:e2e-alerts"
	e2eOrigin        = "https://shop.example.com"
	e2eTable         = "e2e-state"
	e2eEmail         = "grace.hopper@example.org"
	e2eLastName      = "Hopper"
	e2eSourceIP      = "198.51.100.23"
)

// TestAcrossInstances runs the three real bootstraps under the Lambda
// Runtime Interface Emulator, on one real DynamoDB API (dynalite): a
// sign-up answers a status token; the status function says pending; one
// event delivered at once to two webhook instances, twice each, is told
// once; the status function then says completed and clear; the table holds
// no e-mail address, name, IP address or status token in clear; and with
// the table down the status function answers 503 while the webhook still
// tells the operator.
func TestAcrossInstances(t *testing.T) {
	rie := lambdaemu.RIEForTest(t)
	db := dynalite.Start(t)
	db.CreateTable(t, e2eTable)
	sm := fakesecretsmanager.Start()
	t.Cleanup(sm.Close)
	sm.SetSecret(e2eSecretID, `{"apiKey":"`+e2eKey+`","webhookSecret":"`+e2eWebhookSecret+`"}`)
	sns := fakesns.Start()
	t.Cleanup(sns.Close)
	cc := simulator.New("", e2eKey)
	ccSrv := httptest.NewServer(cc)
	t.Cleanup(ccSrv.Close)
	cc.SetPublicURL(ccSrv.URL)

	base := append(lambdaemu.AWSEnv(sm.URL()), db.Env(e2eTable)...)
	start := func(logicalID string, env ...string) *lambdaemu.Emulator {
		t.Helper()
		emu, err := lambdaemu.Start(rie, lambdaemu.BuildFunctionForTest(t, logicalID), append(append([]string(nil), base...), env...))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(emu.Stop)
		return emu
	}
	sessions := start("CreateSessionFunction", "COMPLYCUBE_SECRET_ID="+e2eSecretID, "COMPLYCUBE_BASE_URL="+ccSrv.URL,
		"ALLOWED_ORIGINS="+e2eOrigin, "CLIENT_SOURCE=signup", "WORKFLOW_TEMPLATE_IDS=wt_e2e")
	statuses := start("StatusFunction", "ALLOWED_ORIGINS="+e2eOrigin, "AWS_LAMBDA_FUNCTION_NAME=StatusFunction")
	hookEnv := []string{"COMPLYCUBE_SECRET_ID=" + e2eSecretID, "ALERT_TOPIC_ARN=" + e2eTopic, "AWS_ENDPOINT_URL_SNS=" + sns.URL(), "AWS_LAMBDA_FUNCTION_NAME=WebhookFunction"}
	hooks := []*lambdaemu.Emulator{start("WebhookFunction", hookEnv...), start("WebhookFunction", hookEnv...)}

	invoke := func(emu *lambdaemu.Emulator, path, body string, headers map[string]string) events.APIGatewayV2HTTPResponse {
		t.Helper()
		ev, _ := json.Marshal(events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: path, Body: body, Headers: headers,
			RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: path, SourceIP: e2eSourceIP}}})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// Errorf, not Fatalf: invoke also runs in goroutines.
		out, err := emu.Invoke(ctx, ev)
		if err != nil {
			t.Errorf("invoke %s: %v", path, err)
		}
		var r events.APIGatewayV2HTTPResponse
		if err == nil && json.Unmarshal(out, &r) != nil {
			t.Errorf("not an HTTP API response: %s", out)
		}
		return r
	}
	browser := map[string]string{"content-type": "application/json", "origin": e2eOrigin}
	askStatus := func(token string) events.APIGatewayV2HTTPResponse {
		return invoke(statuses, "/sessions/status", `{"statusToken":"`+token+`"}`, browser)
	}

	// A sign-up: a client, a session, and a status token.
	signup := `{"client":{"type":"person","email":"` + e2eEmail + `","personDetails":{"firstName":"Grace","lastName":"` + e2eLastName + `"}},` +
		`"successUrl":"` + e2eOrigin + `/done","cancelUrl":"` + e2eOrigin + `/cancel"}`
	r := invoke(sessions, "/sessions", signup, browser)
	var created struct{ RedirectURL, StatusToken string }
	if err := json.Unmarshal([]byte(r.Body), &created); r.StatusCode != 200 || err != nil || created.StatusToken == "" {
		t.Fatalf("sign-up: %d %s", r.StatusCode, r.Body)
	}
	if r := askStatus(created.StatusToken); r.StatusCode != 200 || r.Body != `{"status":"pending","outcome":null,"updatedAt":null}` {
		t.Fatalf("status before any event: %d %s", r.StatusCode, r.Body)
	}
	clientID := ""
	for _, rec := range cc.Recorded() {
		var sent struct{ ClientID string }
		if strings.HasPrefix(rec.Path, "/v1/flow/sessions") && json.Unmarshal(rec.Body, &sent) == nil {
			clientID = sent.ClientID
		}
	}
	if clientID == "" {
		t.Fatal("the simulator saw no session for a client")
	}

	// ComplyCube delivers the outcome to two instances at the same moment,
	// twice. (The emulator runs one invocation at a time, as one Lambda
	// instance does: concurrency is across instances.)
	// The event happens after the token was issued, as a session's do.
	at := time.Now().UTC().Add(time.Second).Truncate(time.Second).Format(time.RFC3339)
	event := `{"id":"evt_e2e_across","type":"workflow.session.completed","resourceType":"workflowSession","createdAt":"` + at + `",` +
		`"payload":{"id":"wfs_1","clientId":"` + clientID + `","status":"completed","outcome":"clear","client":{"email":"` + e2eEmail + `"}}}`
	signed := map[string]string{"content-type": "application/json", "complycube-signature": webhook.Sign(e2eWebhookSecret, []byte(event))}
	codes := make(chan int, 4)
	for round := 0; round < 2; round++ {
		var wg sync.WaitGroup
		for _, emu := range hooks {
			wg.Add(1)
			go func(emu *lambdaemu.Emulator) {
				defer wg.Done()
				codes <- invoke(emu, "/webhooks", event, signed).StatusCode
			}(emu)
		}
		wg.Wait()
	}
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("a delivery was answered %d", c)
		}
	}
	if msgs := sns.Published(); len(msgs) != 1 {
		t.Errorf("%d messages for one event delivered four times to two instances, want 1", len(msgs))
	}
	if r := askStatus(created.StatusToken); r.StatusCode != 200 || r.Body != `{"status":"completed","outcome":"clear","updatedAt":"`+at+`"}` {
		t.Errorf("status after the event: %d %s", r.StatusCode, r.Body)
	}

	// What the table holds: hashes and IDs, every item with a ttl.
	items := db.Scan(t, e2eTable)
	if len(items) < 3 {
		t.Fatalf("the table holds %d items; expected the token, the client's status and the event's claim", len(items))
	}
	for _, item := range items {
		text := strings.ToLower(itemText(item))
		for _, secret := range []string{e2eEmail, strings.ToLower(e2eLastName), "grace", e2eSourceIP, strings.ToLower(created.StatusToken), "shop.example.com"} {
			if strings.Contains(text, strings.ToLower(secret)) {
				t.Errorf("an item holds %q in clear: %s", secret, text)
			}
		}
		if _, ok := item["ttl"].(*types.AttributeValueMemberN); !ok {
			t.Errorf("an item without a numeric ttl: %s", text)
		}
	}

	// The table down: the status function fails closed with a 503, the
	// webhook fails open and still tells the operator.
	db.Kill()
	if r := askStatus(created.StatusToken); r.StatusCode != 503 || r.Headers["Retry-After"] == "" {
		t.Errorf("status with the table down: %d %v %s", r.StatusCode, r.Headers, r.Body)
	}
	other := strings.Replace(event, "evt_e2e_across", "evt_e2e_down", 1)
	if r := invoke(hooks[0], "/webhooks", other, map[string]string{"content-type": "application/json", "complycube-signature": webhook.Sign(e2eWebhookSecret, []byte(other))}); r.StatusCode != 200 {
		t.Errorf("webhook with the table down: %d %s", r.StatusCode, r.Body)
	}
	if msgs := sns.Published(); len(msgs) != 2 {
		t.Errorf("%d messages, want 2: an event must not be lost when the table is down", len(msgs))
	}
}

// itemText renders an item's names and values for a search.
func itemText(item map[string]types.AttributeValue) string {
	var b strings.Builder
	for k, v := range item {
		b.WriteString(k + "=")
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			b.WriteString(v.Value)
		case *types.AttributeValueMemberN:
			b.WriteString(v.Value)
		case *types.AttributeValueMemberB:
			b.Write(v.Value)
		}
		b.WriteString(" ")
	}
	return b.String()
}
