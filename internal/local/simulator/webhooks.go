package simulator

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/complycube-session/createsession/handler/webhook"
)

// SetWebhook makes Complete and Cancel on the hosted page send a signed
// webhook to url, as ComplyCube does: the event as JSON, its hex
// HMAC-SHA256 under secret in the ComplyCube-Signature header. Set it
// before serving.
func (s *Simulator) SetWebhook(url, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookURL, s.webhookSecret = url, secret
}

// Webhooks counts the webhooks sent and the ones that were not answered 2xx.
func (s *Simulator) Webhooks() (sent, failed int64) {
	return s.webhooksSent.Load(), s.webhookFails.Load()
}

// webhookClient sends the simulator's webhooks; ComplyCube waits 15 s.
var webhookClient = &http.Client{Timeout: 15 * time.Second}

// notifyFinished sends the session's webhook, if one is set:
// workflow.session.completed (outcome clear) for "complete",
// workflow.session.cancelled for "cancel".
func (s *Simulator) notifyFinished(ctx context.Context, ss *Session, action string) {
	s.mu.Lock()
	url, secret := s.webhookURL, s.webhookSecret
	s.mu.Unlock()
	if url == "" {
		return
	}
	typ, status, outcome := "workflow.session.completed", "completed", "clear"
	if action == "cancel" {
		typ, status, outcome = "workflow.session.cancelled", "cancelled", ""
	}
	payload := map[string]any{"id": ss.Token, "clientId": ss.ClientID, "workflowTemplateId": ss.WorkflowTemplateID, "status": status}
	if outcome != "" {
		payload["outcome"] = outcome
	}
	event, _ := json.Marshal(map[string]any{"id": "evt_" + hex.EncodeToString(randomBytes(12)), "type": typ, "resourceType": "workflowSession",
		"createdAt": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), "payload": payload})
	s.sendWebhook(ctx, url, secret, event)
}

// sendWebhook POSTs event once, signed with webhook.Sign (the receiver's
// own signature function), and counts it; a failure is counted, never
// retried.
func (s *Simulator) sendWebhook(ctx context.Context, url, secret string, event []byte) {
	s.webhooksSent.Add(1)
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost, url, bytes.NewReader(event))
	if err != nil {
		s.webhookFails.Add(1)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("ComplyCube-Signature", webhook.Sign(secret, event))
	res, err := webhookClient.Do(req)
	if err != nil {
		s.webhookFails.Add(1)
		return
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		s.webhookFails.Add(1)
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
