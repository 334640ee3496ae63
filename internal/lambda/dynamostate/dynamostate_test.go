package dynamostate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/complycube-session/createsession/internal/lambda/awsenv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/complycube-session/createsession/handler/state"
	"github.com/complycube-session/createsession/internal/testonly/dynalite"
	"github.com/complycube-session/createsession/internal/testonly/statetest"
	"github.com/complycube-session/createsession/internal/testonly/testclock"
)

// TestConformance runs the store's suite against dynalite through the
// real SDK client, each case on a table of its own.
func TestConformance(t *testing.T) {
	srv := dynalite.Start(t)
	client := NewClient(srv.Config(), nil)
	tables := 0
	statetest.Run(t, func(t *testing.T, now func() time.Time) state.Store {
		tables++
		name := fmt.Sprintf("state-%d", tables)
		srv.CreateTable(t, name)
		return New(client, name, WithClock(now))
	})
}

// TestItems: every kind of item carries a ttl, no more than state.MaxLife
// ahead however far the expiry asked for, and only the attributes the
// package documents.
func TestItems(t *testing.T) {
	srv := dynalite.Start(t)
	srv.CreateTable(t, "state")
	clk := testclock.New()
	tbl := New(NewClient(srv.Config(), nil), "state", WithClock(clk.Now))
	ctx := t.Context()
	far := clk.Now().Add(365 * 24 * time.Hour)
	soon := clk.Now().Add(10 * time.Second)

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := tbl.Claim(ctx, "claim", far)
	must(err)
	_, err = tbl.Count(ctx, "counter", 5, far)
	must(err)
	_, err = tbl.Count(ctx, "counter", 5, far)
	must(err)
	must(tbl.Put(ctx, "value", []byte("client-1"), far))
	must(tbl.Put(ctx, "empty", nil, far))
	_, err = tbl.PutNewer(ctx, "versioned", []byte("status"), 7, far)
	must(err)
	// A counter restarted by the second write (PutItem) must carry a ttl
	// as well as one made by the first (UpdateItem).
	_, err = tbl.Count(ctx, "restarted", 5, soon)
	must(err)
	clk.Advance(11 * time.Second)
	_, err = tbl.Count(ctx, "restarted", 5, far)
	must(err)

	maxTTL := clk.Now().Add(state.MaxLife).Unix()
	allowed := map[string]bool{"pk": true, "ttl": true, "n": true, "v": true, "ver": true}
	items := srv.Scan(t, "state")
	if len(items) != 6 {
		t.Errorf("%d items, want 6", len(items))
	}
	for _, item := range items {
		pk := item["pk"].(*types.AttributeValueMemberS).Value
		ttl, ok := item["ttl"].(*types.AttributeValueMemberN)
		if !ok {
			t.Errorf("item %s has no numeric ttl: %v", pk, item)
			continue
		}
		exp, err := strconv.ParseInt(ttl.Value, 10, 64)
		if err != nil || exp > maxTTL || exp < clk.Now().Unix() {
			t.Errorf("item %s: ttl %s, want an epoch second in [now, now+MaxLife=%d]", pk, ttl.Value, maxTTL)
		}
		for name := range item {
			if !allowed[name] {
				t.Errorf("item %s has attribute %q", pk, name)
			}
		}
	}
}

// TestTableDown: when the table does not answer, every call returns an
// error within its bound, not a hang, and no "yes"; when it refuses
// connections, at once. A table that answers again is used again.
func TestTableDown(t *testing.T) {
	srv := dynalite.Start(t)
	srv.CreateTable(t, "state")
	client := NewClient(srv.Config(), nil)
	exp := time.Now().Add(time.Hour)

	const bound = 300 * time.Millisecond
	tbl := New(client, "state", WithTimeout(bound))
	calls := allCalls(tbl, exp)

	srv.Freeze(t)
	for name, call := range calls {
		began := time.Now()
		yes, err := call(t.Context())
		took := time.Since(began)
		if err == nil || yes {
			t.Errorf("%s on a hanging table = %v, %v; want false and an error", name, yes, err)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s on a hanging table: %v, want a deadline error", name, err)
		}
		if took < bound || took > bound+time.Second {
			t.Errorf("%s on a hanging table took %v, want about %v", name, took, bound)
		}
	}
	// The default bound is a second.
	began := time.Now()
	if _, err := New(client, "state").Claim(t.Context(), "event", exp); err == nil {
		t.Error("Claim on a hanging table succeeded")
	}
	if took := time.Since(began); took < DefaultTimeout || took > DefaultTimeout+time.Second {
		t.Errorf("Claim with the default bound took %v, want about %v", took, DefaultTimeout)
	}

	srv.Thaw(t)
	if won, err := tbl.Claim(t.Context(), "after-thaw", exp); err != nil || !won {
		t.Fatalf("Claim once the table answers again = %v, %v", won, err)
	}

	srv.Kill()
	for name, call := range calls {
		began := time.Now()
		yes, err := call(t.Context())
		if err == nil || yes {
			t.Errorf("%s on a table that refuses connections = %v, %v; want false and an error", name, yes, err)
		}
		if took := time.Since(began); took > bound+100*time.Millisecond {
			t.Errorf("%s on a table that refuses connections took %v", name, took)
		}
	}
}

// allCalls is every Store call as a func returning its "yes" and error.
func allCalls(s state.Store, exp time.Time) map[string]func(context.Context) (bool, error) {
	return map[string]func(context.Context) (bool, error){
		"Claim": func(ctx context.Context) (bool, error) { return s.Claim(ctx, "event", exp) },
		"Count": func(ctx context.Context) (bool, error) { return s.Count(ctx, "ip", 5, exp) },
		"Put": func(ctx context.Context) (bool, error) {
			return false, s.Put(ctx, "token", []byte("client-1"), exp)
		},
		"PutNewer": func(ctx context.Context) (bool, error) {
			return s.PutNewer(ctx, "status", []byte("v"), 1, exp)
		},
		"Get": func(ctx context.Context) (bool, error) {
			v, err := s.Get(ctx, "token")
			return v != nil, err
		},
		"Release": func(ctx context.Context) (bool, error) { return false, s.Release(ctx, "event") },
	}
}

// TestErrorsHoldNoKey: an error names the table and the operation, never
// the key (which may be a status token) or the value.
func TestErrorsHoldNoKey(t *testing.T) {
	srv := dynalite.Start(t)
	tbl := New(NewClient(srv.Config(), nil), "no-such-table")
	const key, value = "key-that-is-a-secret-token", "value-in-clear"
	exp := time.Now().Add(time.Hour)
	for name, call := range allCalls(tbl, exp) {
		_, err := call(t.Context())
		if err == nil {
			t.Errorf("%s on a missing table: no error", name)
			continue
		}
		var missing *types.ResourceNotFoundException
		if !errors.As(err, &missing) {
			t.Errorf("%s: %v, want ResourceNotFoundException", name, err)
		}
		if !strings.Contains(err.Error(), "state table no-such-table") {
			t.Errorf("%s: %q does not name the table", name, err)
		}
	}
	err := tbl.Put(t.Context(), key, []byte(value), exp)
	if err == nil || strings.Contains(err.Error(), key) || strings.Contains(err.Error(), value) {
		t.Errorf("Put's error %q holds the key or the value", err)
	}
}

// TestFunctionEnvironment: a client built from the configuration a
// function reads from its environment (internal/lambda/awsenv: the
// endpoint in AWS_ENDPOINT_URL_DYNAMODB and static credentials, as a local
// run sets them) finds the table and sends through the HTTP client it was
// given, at most MaxAttempts times whatever AWS_MAX_ATTEMPTS says.
func TestFunctionEnvironment(t *testing.T) {
	srv := dynalite.Start(t)
	srv.CreateTable(t, "state")
	env := map[string]string{"AWS_MAX_ATTEMPTS": "10"} // must not stretch a call
	for _, kv := range srv.Env("state") {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	awsEnv, err := awsenv.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}

	var requests atomic.Int32
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		requests.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})}
	tbl := New(NewClient(awsEnv.Config, hc), "state")
	if won, err := tbl.Claim(t.Context(), "event", time.Now().Add(time.Hour)); err != nil || !won {
		t.Fatalf("Claim = %v, %v", won, err)
	}
	if requests.Load() != 1 {
		t.Errorf("%d requests through the given HTTP client, want 1", requests.Load())
	}
	if items := srv.Scan(t, "state"); len(items) != 1 {
		t.Errorf("%d items in the table, want 1", len(items))
	}

	// At most MaxAttempts requests per call, whatever AWS_MAX_ATTEMPTS says.
	srv.Kill()
	requests.Store(0)
	if _, err := tbl.Get(t.Context(), "event"); err == nil {
		t.Fatal("Get on a killed table: no error")
	}
	if n := requests.Load(); n != MaxAttempts {
		t.Errorf("%d attempts for one call, want %d", n, MaxAttempts)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// barrierAPI passes every call to the real client, but holds the first n
// UpdateItem answers until all n have come back, so that n callers all
// see the expired counter before any of them restarts it.
type barrierAPI struct {
	API
	n       int32
	updates atomic.Int32
	all     chan struct{}
}

func (b *barrierAPI) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	out, err := b.API.UpdateItem(ctx, in, optFns...)
	switch k := b.updates.Add(1); {
	case k == b.n:
		close(b.all)
	case k < b.n:
		select {
		case <-b.all:
		case <-ctx.Done():
		}
	}
	return out, err
}

// TestCountRestartRace: two instances count on the same expired counter at
// once; both find it expired, one restarts it, and the other, whose
// restart fails, must count on the new counter rather than be refused
// (the limit has room). A random race rarely lines the calls up this way,
// hence the barrier.
func TestCountRestartRace(t *testing.T) {
	srv := dynalite.Start(t)
	srv.CreateTable(t, "state")
	clk := testclock.New()
	direct := NewClient(srv.Config(), nil)
	if ok, err := New(direct, "state", WithClock(clk.Now)).Count(t.Context(), "day", 5, clk.Now().Add(10*time.Second)); !ok || err != nil {
		t.Fatalf("first count = %v, %v", ok, err)
	}
	clk.Advance(11 * time.Second)

	api := &barrierAPI{API: direct, n: 2, all: make(chan struct{})}
	tbl := New(api, "state", WithClock(clk.Now))
	oks := make(chan bool, 2)
	for range 2 {
		go func() {
			ok, err := tbl.Count(t.Context(), "day", 5, clk.Now().Add(10*time.Second))
			if err != nil {
				t.Error(err)
			}
			oks <- ok
		}()
	}
	if a, b := <-oks, <-oks; !a || !b {
		t.Fatalf("counts racing a restart = %v, %v; want both allowed", a, b)
	}
	// The restarted counter holds exactly those two.
	for i := 3; i <= 5; i++ {
		if ok, err := tbl.Count(t.Context(), "day", 5, clk.Now().Add(10*time.Second)); !ok || err != nil {
			t.Fatalf("count %d = %v, %v", i, ok, err)
		}
	}
	if ok, _ := tbl.Count(t.Context(), "day", 5, clk.Now().Add(10*time.Second)); ok {
		t.Fatal("count 6 allowed with limit 5")
	}
}
