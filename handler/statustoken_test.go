package handler_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/complycube-session/createsession/handler/state"
	"github.com/complycube-session/createsession/internal/lambda/memstate"
	"github.com/complycube-session/createsession/internal/testonly/fakesecretsmanager"
)

// TestStatusTokenEverySession: each session gets its own token, stored
// only as a hash, naming its client (takeStatusToken checks each 200).
func TestStatusTokenEverySession(t *testing.T) {
	f := newFixture(t, fixtureOpts{secret: apiKey})
	seen := map[string]bool{}
	for i := 0; i < 5; i++ {
		a := f.invoke(post(validBody))
		if a.Status != 200 || a.StatusToken == "" {
			t.Fatalf("%d %s", a.Status, a.Body)
		}
		if seen[a.StatusToken] {
			t.Fatalf("token %q given twice", a.StatusToken)
		}
		seen[a.StatusToken] = true
	}
	for _, l := range f.requestLogs() {
		for tok := range seen {
			if strings.Contains(strings.Join(mapValues(l), " "), tok) {
				t.Errorf("a log line holds a status token")
			}
		}
	}
}

// TestStatusTokenStateDown: a session that ComplyCube created is never
// turned into an error because the token could not be stored; the answer
// still carries a token (the page's status check then says it cannot tell
// yet) and the log line says why.
func TestStatusTokenStateDown(t *testing.T) {
	f := newFixture(t, fixtureOpts{secret: apiKey, store: downStore{memstate.New()}})
	a := f.invoke(post(validBody))
	if a.Status != 200 {
		t.Fatalf("%d %s", a.Status, a.Body)
	}
	l := f.lastRequestLog()
	if cause, _ := l["stateError"].(string); !strings.Contains(cause, "store the status token") {
		t.Errorf("log line %v", l)
	}
}

// downStore refuses every write, as a table that cannot be reached.
type downStore struct{ state.Store }

func (downStore) Put(context.Context, string, []byte, time.Time) error {
	return errors.New("connection refused")
}

func mapValues(m map[string]any) []string {
	var out []string
	for _, v := range m {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// TestLogLineNeverReadsTheSecret: with the secret unreadable, a request
// that needs no key (a preflight, a refused origin) reads nothing from
// Secrets Manager, not even for its log line's sourceIpHash.
func TestLogLineNeverReadsTheSecret(t *testing.T) {
	f := newFixture(t, fixtureOpts{secret: apiKey, smFail: fakesecretsmanager.InternalFail})
	time.Sleep(1100 * time.Millisecond) // past the once-a-second re-read bound
	reads := len(f.sm.Requests())
	f.invoke(req{method: "OPTIONS", headers: map[string]string{"origin": allowed}})
	f.invoke(req{method: "POST", headers: map[string]string{"origin": "https://evil.example", "content-type": "application/json"}, body: validBody})
	if n := len(f.sm.Requests()) - reads; n != 0 {
		t.Errorf("requests that need no key read the secret %d times", n)
	}
}

// TestStatusTokenWriteNeverPastTheDeadline: a table that hangs does not
// hold the answer past the invocation's deadline: the session exists, and
// the answer goes out with its own margin.
func TestStatusTokenWriteNeverPastTheDeadline(t *testing.T) {
	f := newFixture(t, fixtureOpts{secret: apiKey, store: hangingStore{memstate.New()}})
	r := post(validBody)
	r.timeout = 700 * time.Millisecond
	start := time.Now()
	a := f.invoke(r)
	if took := time.Since(start); took > r.timeout {
		t.Errorf("answered after %v, past the %v deadline", took, r.timeout)
	}
	if a.Status != 200 {
		t.Errorf("%d %s", a.Status, a.Body)
	}
}

// hangingStore's writes wait until their context ends.
type hangingStore struct{ state.Store }

func (hangingStore) Put(ctx context.Context, _ string, _ []byte, _ time.Time) error {
	<-ctx.Done()
	return ctx.Err()
}
