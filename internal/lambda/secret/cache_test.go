package secret_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/complycube-session/createsession/internal/lambda/secret"
	"github.com/complycube-session/createsession/internal/testonly/testclock"
)

// scripted returns keys and errors in order, and counts the reads.
type scripted struct {
	mu    sync.Mutex
	keys  []string
	errs  []error
	reads int
}

func (s *scripted) Fetch(ctx context.Context) (secret.Secret, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := min(s.reads, len(s.keys)-1)
	s.reads++
	return secret.Secret{APIKey: s.keys[i]}, s.errs[i]
}

func TestCacheRules(t *testing.T) {
	down := errors.New("secrets manager down")
	f := &scripted{keys: []string{"", "", "k1", "k1", "k2"}, errs: []error{down, down, nil, nil, nil}}
	c := testclock.At(time.Unix(1e9, 0))
	cache := secret.NewCache(f, secret.WithClock(c.Now))
	ctx := context.Background()

	if err := cache.Load(ctx); !errors.Is(err, down) {
		t.Fatalf("Load: %v", err)
	}
	// Within a second of the failed read: no new read.
	if _, err := cache.Key(ctx); !errors.Is(err, secret.ErrThrottled) || !errors.Is(err, down) {
		t.Fatalf("Key within a second: %v", err)
	}
	if f.reads != 1 {
		t.Fatalf("%d reads", f.reads)
	}
	c.Advance(time.Second)
	if _, err := cache.Key(ctx); !errors.Is(err, down) || f.reads != 2 {
		t.Fatalf("Key after a second: %v, %d reads", err, f.reads)
	}
	c.Advance(time.Second)
	if k, err := cache.Key(ctx); k != "k1" || err != nil {
		t.Fatalf("Key: %q %v", k, err)
	}
	// A held key is served without reads.
	for i := 0; i < 10; i++ {
		cache.Key(ctx)
	}
	if f.reads != 3 {
		t.Fatalf("%d reads while a key was held", f.reads)
	}
	// Rejected within a second of the last read: unchanged, no read.
	if _, err := cache.Refresh(ctx, "k1"); !errors.Is(err, secret.ErrUnchanged) || f.reads != 3 {
		t.Fatalf("Refresh too soon: %v, %d reads", err, f.reads)
	}
	c.Advance(time.Second)
	if _, err := cache.Refresh(ctx, "k1"); !errors.Is(err, secret.ErrUnchanged) || f.reads != 4 {
		t.Fatalf("Refresh unchanged: %v, %d reads", err, f.reads)
	}
	c.Advance(time.Second)
	if k, err := cache.Refresh(ctx, "k1"); k != "k2" || err != nil {
		t.Fatalf("Refresh rotated: %q %v", k, err)
	}
	// A request that still holds k1 learns of k2 without a read.
	if k, err := cache.Refresh(ctx, "k1"); k != "k2" || err != nil || f.reads != 5 {
		t.Fatalf("Refresh after another rotated: %q %v %d", k, err, f.reads)
	}
}

// TestCacheKeepsKeyOnFailedRefresh: an outage does not drop a working key.
func TestCacheKeepsKeyOnFailedRefresh(t *testing.T) {
	f := &scripted{keys: []string{"k1", ""}, errs: []error{nil, errors.New("denied")}}
	c := testclock.At(time.Unix(1e9, 0))
	cache := secret.NewCache(f, secret.WithClock(c.Now))
	cache.Load(context.Background())
	c.Advance(2 * time.Second)
	if _, err := cache.Refresh(context.Background(), "k1"); err == nil {
		t.Fatal("Refresh hid the read error")
	}
	if k, _ := cache.Key(context.Background()); k != "k1" {
		t.Fatalf("key after failed refresh: %q", k)
	}
}

// TestCacheFetchTimeout: every read is bounded.
func TestCacheFetchTimeout(t *testing.T) {
	cache := secret.NewCache(fetchFunc(func(ctx context.Context) (string, error) {
		<-ctx.Done()
		return "", ctx.Err()
	}), secret.WithFetchTimeout(50*time.Millisecond))
	start := time.Now()
	if err := cache.Load(context.Background()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Load: %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatal("the read was not bounded")
	}
}

type fetchFunc func(context.Context) (string, error)

func (f fetchFunc) Fetch(ctx context.Context) (secret.Secret, error) {
	k, err := f(ctx)
	return secret.Secret{APIKey: k}, err
}

func TestParseSecretForms(t *testing.T) {
	good := map[string]string{
		"test_abc":                      "test_abc",
		" live_abc\n":                   "live_abc",
		`{"apiKey":"test_abc"}`:         "test_abc",
		`{"apiKey":" test_abc ","x":1}`: "test_abc",
	}
	for in, want := range good {
		if got, err := secret.Parse(in); got.APIKey != want || err != nil {
			t.Errorf("Parse(%q) = %q, %v", in, got.APIKey, err)
		}
	}
	for _, in := range []string{"", "  ", `{"apiKey":""}`, `{"apikey":"x"}`, `{"apiKey":1}`, `{"apiKey":"a b"}`, `{bad json`, "two words", `"quoted"`} {
		if got, err := secret.Parse(in); err == nil {
			t.Errorf("Parse(%q) = %q, want an error", in, got.APIKey)
		} else if got != (secret.Secret{}) {
			t.Errorf("Parse(%q) returned a key with an error", in)
		}
	}
	// The error never quotes the secret.
	if _, err := secret.Parse(`{"key":"test_SHOULD_NOT_APPEAR"}`); err == nil || strings.Contains(err.Error(), "SHOULD_NOT_APPEAR") {
		t.Errorf("error quotes the secret: %v", err)
	}
}

// multi returns whole secrets in order, and counts the reads.
type multi struct {
	mu      sync.Mutex
	secrets []secret.Secret
	reads   int
}

func (m *multi) Fetch(context.Context) (secret.Secret, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.secrets[min(m.reads, len(m.secrets)-1)]
	m.reads++
	return s, nil
}

// TestInvitationKeyRules: the invitation key comes from the same secret,
// must be at least 32 bytes, and is read again on a failed signature at
// most once a second, like the API key.
func TestInvitationKeyRules(t *testing.T) {
	old := strings.Repeat("o", 32)
	rotated := strings.Repeat("r", 48)
	f := &multi{secrets: []secret.Secret{{APIKey: "k", InvitationKey: old}, {APIKey: "k", InvitationKey: rotated}}}
	c := testclock.At(time.Unix(1e9, 0))
	cache := secret.NewCache(f, secret.WithClock(c.Now))
	ctx := context.Background()
	if err := cache.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if k, err := cache.InvitationKey(ctx); err != nil || string(k) != old {
		t.Fatalf("InvitationKey: %q %v", k, err)
	}
	// Within a second of the last read: no read, unchanged.
	if _, err := cache.RefreshInvitationKey(ctx, []byte(old)); !errors.Is(err, secret.ErrUnchanged) || f.reads != 1 {
		t.Fatalf("refresh within a second: %v, %d reads", err, f.reads)
	}
	c.Advance(time.Second)
	if k, err := cache.RefreshInvitationKey(ctx, []byte(old)); err != nil || string(k) != rotated || f.reads != 2 {
		t.Fatalf("refresh after a second: %q %v, %d reads", k, err, f.reads)
	}
	// Another request that still holds the old key gets the new one with no read.
	if k, err := cache.RefreshInvitationKey(ctx, []byte(old)); err != nil || string(k) != rotated || f.reads != 2 {
		t.Fatalf("second refresh: %q %v, %d reads", k, err, f.reads)
	}

	short := secret.NewCache(&multi{secrets: []secret.Secret{{APIKey: "k", InvitationKey: "too-short"}}})
	if _, err := short.InvitationKey(ctx); err == nil || !strings.Contains(err.Error(), "shorter than 32 bytes") {
		t.Errorf("a short invitation key: %v", err)
	}
	none := secret.NewCache(&multi{secrets: []secret.Secret{{APIKey: "k"}}})
	if _, err := none.InvitationKey(ctx); err == nil || strings.Contains(err.Error(), "k") && !strings.Contains(err.Error(), "invitationKey") {
		t.Errorf("no invitation key: %v", err)
	}
}

func TestParseSecretJSON(t *testing.T) {
	s, err := secret.Parse(`{"apiKey":"test_a","invitationKey":"` + strings.Repeat("i", 40) + `","webhookSecret":"whsec","other":1}`)
	if err != nil || s.APIKey != "test_a" || len(s.InvitationKey) != 40 || s.WebhookSecret != "whsec" {
		t.Fatalf("%+v %v", s, err)
	}
	for _, bad := range []string{`{"apiKey":"a","invitationKey":5}`, `{"apiKey":"a","webhookSecret":""}`, `{"apiKey":"a","invitationKey":"has space inside it"}`} {
		if _, err := secret.Parse(bad); err == nil {
			t.Errorf("%s accepted", bad)
		} else if strings.Contains(err.Error(), "space inside") {
			t.Errorf("the error quotes the secret: %v", err)
		}
	}
}

// sequence returns its secrets in order (the last one again), counting
// the reads.
type sequence struct {
	mu      sync.Mutex
	secrets []secret.Secret
	reads   int
}

func (s *sequence) Fetch(context.Context) (secret.Secret, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := min(s.reads, len(s.secrets)-1)
	s.reads++
	return s.secrets[i], nil
}

// TestFieldAddedAfterStart: a value the secret did not hold when it was
// read (webhookSecret or turnstileSecretKey added after the deploy) is
// picked up by a running instance, reading at most once a second.
func TestFieldAddedAfterStart(t *testing.T) {
	f := &sequence{secrets: []secret.Secret{{APIKey: "k"}, {APIKey: "k", WebhookSecret: "whsec_added", TurnstileSecretKey: "ts_added"}}}
	c := testclock.At(time.Unix(1e9, 0))
	cache := secret.NewCache(f, secret.WithClock(c.Now))
	ctx := context.Background()
	if err := cache.Load(ctx); err != nil {
		t.Fatal(err)
	}
	// Within the second of the first read: no new read, the field missing.
	for i := 0; i < 5; i++ {
		if _, err := cache.WebhookSecret(ctx); err == nil {
			t.Fatal("a webhookSecret that the secret did not hold")
		}
	}
	if f.reads != 1 {
		t.Fatalf("%d reads within a second", f.reads)
	}
	c.Advance(time.Second)
	if v, err := cache.WebhookSecret(ctx); v != "whsec_added" || err != nil {
		t.Fatalf("after the operator added it: %q %v", v, err)
	}
	if v, err := cache.TurnstileSecretKey(ctx); v != "ts_added" || err != nil || f.reads != 2 {
		t.Fatalf("turnstileSecretKey %q %v, %d reads", v, err, f.reads)
	}
	// A held value is served without reads.
	cache.WebhookSecret(ctx)
	if f.reads != 2 {
		t.Errorf("%d reads for a value held", f.reads)
	}
}
