package webhook_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/complycube-session/createsession/handler/webhook"
	"github.com/complycube-session/createsession/internal/lambda/apigateway"
	"github.com/complycube-session/createsession/internal/lambda/webhookfn"
	"github.com/complycube-session/createsession/internal/testonly/emfcheck"
	"github.com/complycube-session/createsession/internal/testonly/fakesecretsmanager"
	"github.com/complycube-session/createsession/internal/testonly/fakesns"
	"github.com/complycube-session/createsession/internal/testonly/lambdaemu"
	"github.com/complycube-session/createsession/internal/testonly/syncbuf"
)

const (
	webhookSecret = "whsec_dGVzdC13ZWJob29rLXNlY3JldC1vbmx5"
	rotatedSecret = "whsec_cm90YXRlZC13ZWJob29rLXNlY3JldA"
	secretID      = "prod/complycube"
	topic         = "arn:aws:sns:eu-west-1:123456789012:complycube-alerts"
)

// personal data of the realistic event: none of it may reach a message or
// a log line.
var personal = []string{"Jane", "Doe-Smith", "jane.doe@example.org", "1990-04-12", "221B Baker Street", "NW1 6XE", "P1234567", "+447700900123"}

// realisticEvent is a check.completed event as ComplyCube sends it, with
// the client's personal data inside the payload.
func realisticEvent(id string) []byte {
	return []byte(`{"id":"` + id + `","type":"check.completed.clear","resourceType":"check","createdAt":"2026-12-01T10:15:00.000Z",` +
		`"payload":{"id":"5f1a2b3c4d5e6f7a8b9c0d1e","clientId":"5eb04fcd0f3e360008035eb1","entityName":"Jane Doe-Smith","type":"document_check","status":"complete",` +
		`"result":{"outcome":"clear","breakdown":{"extractedData":{"holderDetails":{"firstName":["Jane"],"lastName":["Doe-Smith"],"dob":{"day":12,"month":4,"year":1990},"dateOfBirth":"1990-04-12"},` +
		`"documentDetails":{"documentNumber":"P1234567","issuingCountry":"GB"},"address":{"line":"221B Baker Street","postalCode":"NW1 6XE"}}}},` +
		`"client":{"email":"jane.doe@example.org","mobile":"+447700900123"},"documentId":"6a7b8c9d0e1f2a3b4c5d6e7f"}}`)
}

type fixture struct {
	t    *testing.T
	sm   *fakesecretsmanager.Server
	sns  *fakesns.Server
	fn   apigateway.Lambda
	logs *syncbuf.Buffer
}

// everything collects the suite's log lines and answers for TestMain.
var everything = &syncbuf.Buffer{}

func TestMain(m *testing.M) {
	code := m.Run()
	all := everything.String()
	if len(all) < 1000 {
		fmt.Fprintln(os.Stderr, "the leak check saw almost nothing: the collector is not wired")
		code = 1
	}
	for _, s := range append([]string{webhookSecret, rotatedSecret}, personal...) {
		if strings.Contains(all, s) {
			fmt.Fprintf(os.Stderr, "LEAK: %q appears in a log line or an answer of the suite\n", s)
			code = 1
		}
	}
	os.Exit(code)
}

func newFixture(t *testing.T, secret string) *fixture {
	t.Helper()
	f := &fixture{t: t, sm: fakesecretsmanager.Start(), sns: fakesns.Start(), logs: &syncbuf.Buffer{}}
	t.Cleanup(f.sm.Close)
	t.Cleanup(f.sns.Close)
	if secret != "" {
		f.sm.SetSecret(secretID, secret)
	}
	lambdaemu.SetAWSEnv(t, f.sm.URL(), "AWS_ENDPOINT_URL_SNS="+f.sns.URL())
	env := map[string]string{"COMPLYCUBE_SECRET_ID": secretID, "ALERT_TOPIC_ARN": topic, "AWS_LAMBDA_FUNCTION_NAME": "stack-webhook"}
	log := slog.New(slog.NewJSONHandler(io.MultiWriter(f.logs, everything), nil))
	// Its own variables, then the AWS ones SetAWSEnv set.
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
	fn, err := webhookfn.FromEnv(context.Background(), getenv, log)
	if err != nil {
		t.Fatal(err)
	}
	f.fn = fn
	return f
}

var secretJSON = `{"apiKey":"test_k","webhookSecret":"` + webhookSecret + `"}`

type answer struct {
	Status  int
	Headers map[string]string
	Body    string
}

// deliver posts body with the given signature header values, as API
// Gateway hands a webhook to the function.
func (f *fixture) deliver(body []byte, b64 bool, timeout time.Duration, signatures ...string) answer {
	f.t.Helper()
	headers := map[string]string{"content-type": "application/json", "user-agent": "ComplyCube-Webhook"}
	if len(signatures) > 0 {
		headers["complycube-signature"] = strings.Join(signatures, ",")
	}
	text := string(body)
	if b64 {
		text = base64.StdEncoding.EncodeToString(body)
	}
	ev, _ := json.Marshal(events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: "/webhooks", Headers: headers, Body: text, IsBase64Encoded: b64,
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/webhooks"}}})
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := f.fn.Invoke(ctx, ev)
	if err != nil {
		f.t.Fatalf("Lambda error: %v", err)
	}
	fmt.Fprintf(everything, "ANSWER %s\n", out)
	var r events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &r); err != nil {
		f.t.Fatalf("not an HTTP API response: %s", out)
	}
	return answer{r.StatusCode, r.Headers, r.Body}
}

const invalidSignature = `{"type":"invalid_signature","message":"The signature does not match the body."}`

// TestPHPSDKVector: the PHP SDK's published test vector is what Sign makes,
// and the function takes it as a valid signature (the body, having no
// type, is then an unreadable event: 200, and the operator is told).
func TestPHPSDKVector(t *testing.T) {
	const vector = "bc00414fa4d54277a3ed01e5ee258d9800a918a7791c7cda16d38b82f38f2150"
	if got := webhook.Sign("a_webhook_signature", []byte(`{"id":"value"}`)); got != vector {
		t.Fatalf("Sign = %s, want the PHP SDK's %s", got, vector)
	}
	f := newFixture(t, `{"apiKey":"test_k","webhookSecret":"a_webhook_signature"}`)
	a := f.deliver([]byte(`{"id":"value"}`), false, 0, vector)
	if a.Status != 200 || a.Body != `{"received":true}` {
		t.Errorf("%d %s", a.Status, a.Body)
	}
	if msgs := f.sns.Published(); len(msgs) != 1 || !strings.Contains(msgs[0].Subject, "could not be read") {
		t.Errorf("published %+v, want one notice of an unreadable event", msgs)
	}
}

// TestSignatures: every forgery is a 401 and nothing is published.
func TestSignatures(t *testing.T) {
	f := newFixture(t, secretJSON)
	body := realisticEvent("evt_sig")
	good := webhook.Sign(webhookSecret, body)
	var reserialised bytes.Buffer
	json.Compact(&reserialised, body)
	var anyEvent map[string]any
	json.Unmarshal(body, &anyEvent)
	remarshalled, _ := json.Marshal(anyEvent)
	changed := bytes.Replace(body, []byte(`"clear"`), []byte(`"clean"`), 1)
	cases := []struct {
		name       string
		body       []byte
		b64        bool
		signatures []string
	}{
		{"missing", body, false, nil},
		{"empty", body, false, []string{""}},
		{"wrong", body, false, []string{webhook.Sign("another-secret", body)}},
		{"upper-case hex", body, false, []string{strings.ToUpper(good)}},
		{"truncated", body, false, []string{good[:len(good)-2]}},
		{"doubled", body, false, []string{good + good}},
		{"twice, as two values", body, false, []string{good, good}},
		{"with a scheme prefix", body, false, []string{"sha256=" + good}},
		{"a body changed by one byte", changed, false, []string{good}},
		{"the body re-serialised", remarshalled, false, []string{good}},
		{"signed with the API key", body, false, []string{webhook.Sign("test_k", body)}},
		{"over the base64 text instead of the bytes", body, true, []string{webhook.Sign(webhookSecret, []byte(base64.StdEncoding.EncodeToString(body)))}},
	}
	if !bytes.Equal(reserialised.Bytes(), body) {
		cases = append(cases, struct {
			name       string
			body       []byte
			b64        bool
			signatures []string
		}{"the body compacted", reserialised.Bytes(), false, []string{good}})
	}
	for _, c := range cases {
		a := f.deliver(c.body, c.b64, 0, c.signatures...)
		if a.Status != 401 || a.Body != invalidSignature || a.Headers["Cache-Control"] != "no-store" {
			t.Errorf("%s: %d %s", c.name, a.Status, a.Body)
		}
	}
	if n := f.sns.Requests(); n != 0 {
		t.Errorf("%d publishes for forged webhooks", n)
	}
	// The same event, signed right, base64-encoded by API Gateway: taken.
	if a := f.deliver(body, true, 0, good); a.Status != 200 {
		t.Errorf("a base64-encoded body signed over its bytes: %d %s", a.Status, a.Body)
	}
}

// TestOversizedAndMalformed: 413 over 256 KiB (before any HMAC work); a
// verified body that is not a JSON object with a string id and type is
// answered 200 (ComplyCube disables a webhook after ten failures), counted
// and told to the operator without any of its content.
func TestOversizedAndMalformed(t *testing.T) {
	f := newFixture(t, secretJSON)
	big := append([]byte(`{"id":"evt_big","type":"check.completed","pad":"`), bytes.Repeat([]byte("x"), 256<<10)...)
	big = append(big, `"}`...)
	big = big[:256<<10+1]
	if a := f.deliver(big, false, 0, webhook.Sign(webhookSecret, big)); a.Status != 413 || !strings.Contains(a.Body, "request_too_large") {
		t.Errorf("256 KiB + 1: %d %s", a.Status, a.Body)
	}
	exactly := append([]byte(`{"id":"evt_256k","type":"check.completed","pad":"`), bytes.Repeat([]byte("x"), 256<<10-len(`{"id":"evt_256k","type":"check.completed","pad":""}`))...)
	exactly = append(exactly, `"}`...)
	if a := f.deliver(exactly, false, 0, webhook.Sign(webhookSecret, exactly)); a.Status != 200 {
		t.Errorf("exactly 256 KiB: %d %s", a.Status, a.Body)
	}
	unreadable := []string{`not json`, `[]`, `{"id":5,"type":"x"}`, `{"type":"check.completed"}`, `{"id":"evt_1"}`, `{"id":"evt_1","type":"x","id":"evt_2"}`, `{"id":"evt 1","type":"x"}`, `{"id":"evt_1","type":"x"} {}`, `{"id":"evt_1","type":"x","secretName":"Jane Doe"`}
	for _, body := range unreadable {
		if a := f.deliver([]byte(body), false, 0, webhook.Sign(webhookSecret, []byte(body))); a.Status != 200 {
			t.Errorf("%s: %d %s", body, a.Status, a.Body)
		}
	}
	msgs := f.sns.Published()
	if len(msgs) != 1+len(unreadable) {
		t.Fatalf("%d publishes, want %d (the 256 KiB event, and a notice for each unreadable one)", len(msgs), 1+len(unreadable))
	}
	for _, m := range msgs[1:] {
		if !strings.Contains(m.Subject, "could not be read") || strings.Contains(m.Message, "Jane") || strings.Contains(m.Message, "evt_") {
			t.Errorf("notice %q: %q", m.Subject, m.Message)
		}
	}
	if n := strings.Count(f.logs.String(), `"WebhookUnreadable":1`); n != len(unreadable) {
		t.Errorf("WebhookUnreadable counted %d times, want %d", n, len(unreadable))
	}
}

// TestPublish: a verified event is published once with a short subject and
// a body of the fixed places only (the event's id, type, resourceType and
// createdAt; the payload's id, clientId, checkId, workflowSessionId,
// status, outcome and result.outcome); the same ID again is answered 200
// and not published again.
func TestPublish(t *testing.T) {
	f := newFixture(t, secretJSON)
	body := realisticEvent("evt_5f1a2b3c")
	a := f.deliver(body, false, 0, webhook.Sign(webhookSecret, body))
	if a.Status != 200 || a.Body != `{"received":true}` {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
	msgs := f.sns.Published()
	if len(msgs) != 1 || msgs[0].TopicARN != topic {
		t.Fatalf("published %+v", msgs)
	}
	m := msgs[0]
	if len(m.Subject) > 100 || !strings.HasPrefix(m.Subject, "ComplyCube check.completed.clear (clear)") || !strings.Contains(m.Subject, "clientId=5eb04fcd0f3e360008035eb1") {
		t.Errorf("subject %q", m.Subject)
	}
	var ev webhook.Event
	if err := json.Unmarshal([]byte(m.Message), &ev); err != nil {
		t.Fatalf("message is not JSON: %s", m.Message)
	}
	want := webhook.Event{ID: "evt_5f1a2b3c", Type: "check.completed.clear", ResourceType: "check", CreatedAt: "2026-12-01T10:15:00.000Z",
		ResourceID: "5f1a2b3c4d5e6f7a8b9c0d1e", ClientID: "5eb04fcd0f3e360008035eb1", Status: "complete", ResultOutcome: "clear"}
	if ev != want {
		t.Errorf("message\n  %+v\nwant\n  %+v", ev, want)
	}
	for _, p := range personal {
		if strings.Contains(m.Message, p) || strings.Contains(m.Subject, p) {
			t.Errorf("the message carries %q", p)
		}
	}
	// ComplyCube sends the same event again (it missed our answer).
	if a := f.deliver(body, false, 0, webhook.Sign(webhookSecret, body)); a.Status != 200 {
		t.Errorf("the same event again: %d %s", a.Status, a.Body)
	}
	if n := len(f.sns.Published()); n != 1 {
		t.Errorf("%d publishes for one event ID, want 1", n)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, `"duplicate":true`) || !strings.Contains(logs, `"published":true`) {
		t.Errorf("log lines:\n%s", logs)
	}
}

// TestPublishFailures: SNS failing, or hanging past the deadline, is a 502
// in time (ComplyCube sends the event again); the next delivery of the
// same event, once SNS is back, is published.
func TestPublishFailures(t *testing.T) {
	f := newFixture(t, secretJSON)
	body := realisticEvent("evt_retry")
	sig := webhook.Sign(webhookSecret, body)
	f.sns.Fail(true)
	if a := f.deliver(body, false, 0, sig); a.Status != 502 || !strings.Contains(a.Body, "upstream_error") {
		t.Errorf("SNS failing: %d %s", a.Status, a.Body)
	}
	f.sns.Fail(false)
	f.sns.Hang(time.Minute)
	start := time.Now()
	a := f.deliver(body, false, 2*time.Second, sig)
	if a.Status != 502 {
		t.Errorf("SNS hanging: %d %s", a.Status, a.Body)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("answered after %v, past the invocation's 2 s", d)
	}
	f.sns.Hang(0)
	if a := f.deliver(body, false, 0, sig); a.Status != 200 {
		t.Errorf("SNS back: %d %s", a.Status, a.Body)
	}
	if n := len(f.sns.Published()); n != 1 {
		t.Errorf("%d messages published, want 1", n)
	}
}

// TestWebhookSecretRotation: a webhook signed with a rotated webhookSecret
// is taken without a restart, and forgeries read the secret at most once a
// second.
func TestWebhookSecretRotation(t *testing.T) {
	f := newFixture(t, secretJSON)
	f.sm.SetSecret(secretID, `{"apiKey":"test_k","webhookSecret":"`+rotatedSecret+`"}`)
	time.Sleep(1100 * time.Millisecond)
	body := realisticEvent("evt_rotated")
	if a := f.deliver(body, false, 0, webhook.Sign(rotatedSecret, body)); a.Status != 200 {
		t.Fatalf("rotated secret: %d %s", a.Status, a.Body)
	}
	reads := len(f.sm.Requests())
	for i := 0; i < 20; i++ {
		f.deliver(body, false, 0, webhook.Sign("forger", body))
	}
	if n := len(f.sm.Requests()) - reads; n > 1 {
		t.Errorf("20 forgeries within a second read the secret %d more times", n)
	}
}

// TestSecretUnavailable: no readable webhookSecret is a 503 (ComplyCube
// retries), with an ERROR at start.
func TestSecretUnavailable(t *testing.T) {
	f := newFixture(t, `{"apiKey":"test_k"}`)
	body := realisticEvent("evt_nosecret")
	if a := f.deliver(body, false, 0, webhook.Sign(webhookSecret, body)); a.Status != 503 || a.Headers["Retry-After"] == "" {
		t.Errorf("%d %v %s", a.Status, a.Headers, a.Body)
	}
	// The operator adds webhookSecret after the deploy, as the docs say:
	// the running instance picks it up (reading at most once a second).
	f.sm.SetSecret(secretID, secretJSON)
	time.Sleep(1100 * time.Millisecond)
	if a := f.deliver(body, false, 0, webhook.Sign(webhookSecret, body)); a.Status != 200 {
		t.Errorf("after webhookSecret was added: %d %s", a.Status, a.Body)
	}
}

// TestWebhookMetrics: every webhook log line is valid CloudWatch EMF, and
// its metrics count what happened.
func TestWebhookMetrics(t *testing.T) {
	f := newFixture(t, secretJSON)
	body := realisticEvent("evt_metrics")
	f.deliver(body, false, 0, webhook.Sign(webhookSecret, body))
	f.deliver(body, false, 0, "forged")
	f.sns.Fail(true)
	other := realisticEvent("evt_metrics_2")
	f.deliver(other, false, 0, webhook.Sign(webhookSecret, other))
	want := []emfcheck.Metrics{
		{"Webhooks": 1, "WebhookEventsPublished": 1, "WebhookSignatureFailures": 0, "WebhookPublishFailures": 0, "ColdStarts": 1},
		{"Webhooks": 1, "WebhookEventsPublished": 0, "WebhookSignatureFailures": 1, "ColdStarts": 0},
		{"Webhooks": 1, "WebhookPublishFailures": 1},
	}
	var lines []string
	for _, l := range strings.Split(f.logs.String(), "\n") {
		if strings.Contains(l, `"msg":"webhook"`) {
			lines = append(lines, l)
		}
	}
	if len(lines) != len(want) {
		t.Fatalf("%d webhook log lines", len(lines))
	}
	for i, l := range lines {
		got, errs := emfcheck.Validate([]byte(l))
		for _, err := range errs {
			t.Errorf("line %d: EMF: %v", i, err)
		}
		for k, v := range want[i] {
			if got[k] != v {
				t.Errorf("line %d: %s = %v, want %v", i, k, got[k], v)
			}
		}
		if !strings.Contains(l, `"Function":"stack-webhook"`) {
			t.Errorf("line %d has no Function dimension: %s", i, l)
		}
		if !strings.Contains(l, `"sourceIpHash":"`) {
			t.Errorf("line %d has no keyed hash of the source address: %s", i, l)
		}
	}
}
