package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/complycube-session/createsession/handler/state"
	"github.com/complycube-session/createsession/handler/webhook"
	"github.com/complycube-session/createsession/internal/lambda/apigateway"
	"github.com/complycube-session/createsession/internal/lambda/memstate"
	"github.com/complycube-session/createsession/internal/lambda/snstopic"
	"github.com/complycube-session/createsession/internal/lambda/webhookfn"
	"github.com/complycube-session/createsession/internal/testonly/fakesecretsmanager"
	"github.com/complycube-session/createsession/internal/testonly/fakesns"
	"github.com/complycube-session/createsession/internal/testonly/lambdaemu"
	"github.com/complycube-session/createsession/internal/testonly/syncbuf"
)

// newInstance builds one webhook function instance on store, through the
// real wiring, sharing f's fakes: several instances on one store are what
// Lambda runs under concurrent deliveries.
func (f *fixture) newInstance(store state.Store) apigateway.Lambda {
	f.t.Helper()
	env := map[string]string{"COMPLYCUBE_SECRET_ID": secretID, "ALERT_TOPIC_ARN": topic, "AWS_LAMBDA_FUNCTION_NAME": "stack-webhook"}
	cfg, err := webhookfn.LoadConfig(func(k string) string { return env[k] }, false)
	if err != nil {
		f.t.Fatal(err)
	}
	cfg.AWS = lambdaemu.LoadAWS(f.t)
	log := slog.New(slog.NewJSONHandler(io.MultiWriter(f.logs, everything), nil))
	fn, err := webhookfn.Build(context.Background(), cfg, snstopic.New(cfg.TopicARN, snstopic.NewClient(cfg.AWS.Config, nil)), store, log, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return fn
}

// newFixtureOn is newFixture with the function built on store.
func newFixtureOn(t *testing.T, store state.Store) *fixture {
	t.Helper()
	f := &fixture{t: t, sm: fakesecretsmanager.Start(), sns: fakesns.Start(), logs: &syncbuf.Buffer{}}
	t.Cleanup(f.sm.Close)
	t.Cleanup(f.sns.Close)
	f.sm.SetSecret(secretID, secretJSON)
	lambdaemu.SetAWSEnv(t, f.sm.URL(), "AWS_ENDPOINT_URL_SNS="+f.sns.URL())
	f.fn = f.newInstance(store)
	return f
}

// TestRacingInstancesPublishOnce: ComplyCube delivers one event to several
// instances at the same moment, and again later: one message.
func TestRacingInstancesPublishOnce(t *testing.T) {
	store := memstate.New()
	f := newFixtureOn(t, store)
	instances := []apigateway.Lambda{f.fn, f.newInstance(store), f.newInstance(store), f.newInstance(store)}
	body := realisticEvent("evt_race")
	sig := webhook.Sign(webhookSecret, body)
	var wg sync.WaitGroup
	statuses := make(chan int, 4*len(instances))
	for round := 0; round < 4; round++ {
		for _, inst := range instances {
			wg.Add(1)
			go func(inst apigateway.Lambda) {
				defer wg.Done()
				g := *f
				g.fn = inst
				statuses <- g.deliver(body, false, 0, sig).Status
			}(inst)
		}
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != 200 {
			t.Errorf("a delivery was answered %d", s)
		}
	}
	if n := len(f.sns.Published()); n != 1 {
		t.Errorf("%d messages for one event delivered 16 times to 4 instances, want 1", n)
	}
}

// TestStateDownPublishesAnyway: a table that cannot be reached does not
// lose the event: it is published (a duplicate e-mail is better than a
// lost outcome) and answered by the publish's result.
func TestStateDownPublishesAnyway(t *testing.T) {
	f := newFixtureOn(t, brokenStore{})
	body := realisticEvent("evt_down")
	sig := webhook.Sign(webhookSecret, body)
	for i := 0; i < 2; i++ {
		if a := f.deliver(body, false, 0, sig); a.Status != 200 {
			t.Fatalf("%d %s", a.Status, a.Body)
		}
	}
	if n := len(f.sns.Published()); n != 2 {
		t.Errorf("%d messages, want 2 (no claim could be made: each delivery is told)", n)
	}
	if !strings.Contains(f.logs.String(), `"StateErrors":1`) || !strings.Contains(f.logs.String(), "table unreachable") {
		t.Errorf("the state's failure is not in the log line:\n%s", f.logs.String())
	}
	f.sns.Fail(true)
	if a := f.deliver(body, false, 0, sig); a.Status != 502 {
		t.Errorf("state down and SNS failing: %d, want 502 so that ComplyCube sends it again", a.Status)
	}
}

// TestFixedPlacesOnly: the message is built from the fixed places only. A
// payload key ending in Id (nationalId, passportId) is not copied, and a
// nested outcome never stands in for the top-level one, however Go orders
// a map.
func TestFixedPlacesOnly(t *testing.T) {
	f := newFixtureOn(t, memstate.New())
	var first string
	for i := 0; i < 40; i++ {
		id := "evt_fixed_" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		body := []byte(`{"id":"` + id + `","type":"workflow.session.completed","resourceType":"workflowSession","createdAt":"2026-12-01T10:15:00Z",` +
			`"payload":{"a":{"outcome":"rejected","status":"x"},"b":{"outcome":"attention"},"nationalId":"AB123456C","passportId":"P7654321","person":{"id":"p_1","clientId":"c_nested"},` +
			`"outcome":"clear","status":"completed","clientId":"5eb04fcd0f3e360008035eb1","workflowSessionId":"ws_1","z":{"result":{"outcome":"rejected"}}}}`)
		if a := f.deliver(body, false, 0, webhook.Sign(webhookSecret, body)); a.Status != 200 {
			t.Fatalf("%d %s", a.Status, a.Body)
		}
		msgs := f.sns.Published()
		m := msgs[len(msgs)-1]
		var ev webhook.Event
		if err := json.Unmarshal([]byte(m.Message), &ev); err != nil {
			t.Fatal(err)
		}
		want := webhook.Event{ID: id, Type: "workflow.session.completed", ResourceType: "workflowSession", CreatedAt: "2026-12-01T10:15:00Z",
			ClientID: "5eb04fcd0f3e360008035eb1", WorkflowSessionID: "ws_1", Status: "completed", Outcome: "clear"}
		if ev != want {
			t.Fatalf("delivery %d: message %+v\nwant %+v", i, ev, want)
		}
		for _, leak := range []string{"AB123456C", "P7654321", "p_1", "c_nested", "rejected", "attention"} {
			if strings.Contains(m.Message, leak) || strings.Contains(m.Subject, leak) {
				t.Fatalf("the message carries %q: %s %s", leak, m.Subject, m.Message)
			}
		}
		norm := strings.Replace(m.Message, id, "ID", 1)
		if first == "" {
			first = norm
		} else if norm != first {
			t.Fatalf("the same event gave another message:\n%s\n%s", first, norm)
		}
	}
}

// TestStatusRecordedInOrder: the webhook records each client's latest
// status; an older event arriving later never overwrites a newer one.
func TestStatusRecordedInOrder(t *testing.T) {
	store := memstate.New()
	f := newFixtureOn(t, store)
	const client = "5eb04fcd0f3e360008035eb1"
	deliver := func(id, typ, at, extra string) {
		body := []byte(`{"id":"` + id + `","type":"` + typ + `","createdAt":"` + at + `","payload":{"clientId":"` + client + `"` + extra + `}}`)
		if a := f.deliver(body, false, 0, webhook.Sign(webhookSecret, body)); a.Status != 200 {
			t.Fatalf("%s: %d %s", typ, a.Status, a.Body)
		}
	}
	read := func() state.ClientStatus {
		raw, err := store.Get(context.Background(), state.ClientStatusKey(client))
		if err != nil {
			t.Fatal(err)
		}
		st, err := state.DecodeClientStatus(raw)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	deliver("evt_o1", "workflow.session.started", "2026-12-01T10:00:00Z", "")
	if st := read(); st.Status != "started" || st.Outcome != "" {
		t.Errorf("after started: %+v", st)
	}
	deliver("evt_o3", "workflow.session.completed", "2026-12-01T10:05:00Z", `,"outcome":"clear"`)
	deliver("evt_o2", "workflow.session.processing", "2026-12-01T10:02:00Z", "")
	st := read()
	if st.Status != "completed" || st.Outcome != "clear" || !st.UpdatedAt.Equal(time.Date(2026, 12, 1, 10, 5, 0, 0, time.UTC)) {
		t.Errorf("an older event overwrote a newer one: %+v", st)
	}
	// A check's outcome, later.
	deliver("evt_o4", "check.completed.rejected", "2026-12-01T10:06:00Z", `,"result":{"outcome":"rejected"}`)
	if st := read(); st.Status != "completed" || st.Outcome != "rejected" {
		t.Errorf("after the check: %+v", st)
	}
}

// brokenStore is a shared state that cannot be reached.
type brokenStore struct{}

var errUnreachable = errors.New("table unreachable")

func (brokenStore) Claim(context.Context, string, time.Time) (bool, error) {
	return false, errUnreachable
}
func (brokenStore) Release(context.Context, string) error { return errUnreachable }
func (brokenStore) Count(context.Context, string, int, time.Time) (bool, error) {
	return false, errUnreachable
}
func (brokenStore) Put(context.Context, string, []byte, time.Time) error { return errUnreachable }
func (brokenStore) PutNewer(context.Context, string, []byte, int64, time.Time) (bool, error) {
	return false, errUnreachable
}
func (brokenStore) Get(context.Context, string) ([]byte, error) { return nil, errUnreachable }
