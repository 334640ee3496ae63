package handler_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/complycube-session/createsession/handler/state"
	"github.com/complycube-session/createsession/internal/lambda/memstate"
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
