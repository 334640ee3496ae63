package simulator_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/complycube-session/createsession/internal/local/simulator"
)

// received is one webhook as the receiver got it.
type received struct {
	sig  string
	body []byte
}

// webhookReceiver is a receiver that keeps what it gets, and a simulator
// that sends it its webhooks.
func webhookReceiver(t *testing.T) (*simulator.Simulator, *httptest.Server, chan received) {
	got := make(chan received, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- received{r.Header.Get("ComplyCube-Signature"), b}
	}))
	t.Cleanup(hook.Close)
	sim, srv := start(t)
	sim.SetWebhook(hook.URL+"/webhooks", "whsec_sim")
	return sim, srv, got
}

// noFollow is a client that shows redirects instead of following them.
var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// newSession creates a session for the valid body and returns its token.
func newSession(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	_, body := post(t, srv, key, "application/json", valid)
	var ok struct{ RedirectURL string }
	if err := json.Unmarshal([]byte(body), &ok); err != nil || ok.RedirectURL == "" {
		t.Fatalf("no session: %s", body)
	}
	return strings.TrimSuffix(strings.TrimPrefix(ok.RedirectURL, srv.URL+"/session/"), "?theme=light")
}

// TestCompleteSendsWebhook: Complete and Cancel (POSTs) send a webhook
// signed as ComplyCube signs them, then send the browser to successUrl or
// cancelUrl with 303 See Other.
func TestCompleteSendsWebhook(t *testing.T) {
	sim, srv, got := webhookReceiver(t)
	for action, want := range map[string]struct{ location, typ, status string }{
		"complete": {"https://shop.example/ok", "workflow.session.completed", "completed"},
		"cancel":   {"https://shop.example/no", "workflow.session.cancelled", "cancelled"},
	} {
		token := newSession(t, srv)
		res, err := noFollow.Post(srv.URL+"/session/"+token+"/"+action, "application/x-www-form-urlencoded", nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != want.location {
			t.Errorf("%s: %d to %q", action, res.StatusCode, res.Header.Get("Location"))
		}
		var r received
		select {
		case r = <-got:
		default:
			t.Fatalf("%s: no webhook had arrived when the browser was redirected", action)
		}
		// Computed here, not with webhook.Sign, so that the simulator's
		// signature is checked against ComplyCube's rule itself.
		mac := hmac.New(sha256.New, []byte("whsec_sim"))
		mac.Write(r.body)
		if r.sig != hex.EncodeToString(mac.Sum(nil)) {
			t.Errorf("%s: signature %q does not match the body", action, r.sig)
		}
		var ev struct {
			ID, Type string
			Payload  struct{ ID, ClientID, Status string }
		}
		if json.Unmarshal(r.body, &ev); !strings.HasPrefix(ev.ID, "evt_") || ev.Type != want.typ || ev.Payload.ID != token || ev.Payload.ClientID != "5eb04fcd0f3e360008035eb1" || ev.Payload.Status != want.status {
			t.Errorf("%s: event %s", action, r.body)
		}
	}
	if sent, failed := sim.Webhooks(); sent != 2 || failed != 0 {
		t.Errorf("webhooks sent %d, failed %d", sent, failed)
	}
}

// TestFinishTakesPostOnly: a GET or HEAD of Complete or Cancel, as a link
// prefetcher or a crawler would send, is 405 with Allow: POST and sends no
// webhook; the session stays usable, and one POST then sends exactly one
// webhook and a 303.
func TestFinishTakesPostOnly(t *testing.T) {
	sim, srv, got := webhookReceiver(t)
	token := newSession(t, srv)
	for _, action := range []string{"complete", "cancel"} {
		for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPut} {
			req, _ := http.NewRequest(method, srv.URL+"/session/"+token+"/"+action, nil)
			res, err := noFollow.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "POST" || res.Header.Get("Location") != "" {
				t.Errorf("%s %s: %d, Allow %q, Location %q", method, action, res.StatusCode, res.Header.Get("Allow"), res.Header.Get("Location"))
			}
		}
	}
	// The webhook is sent before the answer, so none can be in flight.
	select {
	case r := <-got:
		t.Errorf("a GET sent a webhook: %s", r.body)
	case <-time.After(100 * time.Millisecond):
	}
	if sent, _ := sim.Webhooks(); sent != 0 {
		t.Errorf("%d webhooks sent for GETs", sent)
	}

	res, err := noFollow.Post(srv.URL+"/session/"+token+"/complete", "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "https://shop.example/ok" {
		t.Errorf("POST complete: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	select {
	case r := <-got:
		if !strings.Contains(string(r.body), `"workflow.session.completed"`) {
			t.Errorf("webhook %s", r.body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no webhook after the POST")
	}
	select {
	case r := <-got:
		t.Errorf("a second webhook: %s", r.body)
	case <-time.After(100 * time.Millisecond):
	}
	if sent, failed := sim.Webhooks(); sent != 1 || failed != 0 {
		t.Errorf("webhooks sent %d, failed %d, want 1 and 0", sent, failed)
	}

	// A POST for an unknown session sends nothing and is the 404 page.
	res, err = noFollow.Post(srv.URL+"/session/test_unknown/complete", "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("POST complete of an unknown session: %d", res.StatusCode)
	}
	if sent, _ := sim.Webhooks(); sent != 1 {
		t.Errorf("an unknown session sent a webhook (%d sent)", sent)
	}
}
