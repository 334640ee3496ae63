// Package statetest is the conformance suite of handler/state's Store: the
// DynamoDB adapter (against dynalite) and the in-memory one must both pass
// it, so that a local run decides what the deployed function would.
//
// Expiry is driven by a clock the suite controls and hands to the store:
// both adapters compare expiries with their own clock rather than rely on
// deletion (DynamoDB's Time to Live lags), so a fake clock works against a
// real DynamoDB API too. Times are whole seconds apart from expiries, as
// items' ttl is kept in epoch seconds.
package statetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/complycube-session/createsession/handler/state"
	"github.com/complycube-session/createsession/internal/testonly/testclock"
)

// NewStore makes an empty store whose clock is now.
type NewStore func(t *testing.T, now func() time.Time) state.Store

// Run runs the suite, each case as a subtest with a store of its own.
func Run(t *testing.T, newStore NewStore) {
	cases := []struct {
		name string
		run  func(t *testing.T, s state.Store, clk *testclock.Clock)
	}{
		{"ClaimOnce", claimOnce},
		{"ConcurrentClaims", concurrentClaims},
		{"ClaimAfterExpiry", claimAfterExpiry},
		{"ReleaseThenClaim", releaseThenClaim},
		{"CountUpToLimit", countUpToLimit},
		{"CountZeroLimit", countZeroLimit},
		{"ConcurrentCounts", concurrentCounts},
		{"ExpiredCounterRestarts", expiredCounterRestarts},
		{"CounterKeepsFirstExpiry", counterKeepsFirstExpiry},
		{"ConcurrentCountsOnExpiredCounter", concurrentCountsOnExpiredCounter},
		{"PutGet", putGet},
		{"GetMissing", getMissing},
		{"GetExpired", getExpired},
		{"ValuesAreCopies", valuesAreCopies},
		{"PutNewer", putNewer},
		{"PutNewerReplacesExpired", putNewerReplacesExpired},
		{"PutNewerDoesNotReplaceLivePut", putNewerDoesNotReplaceLivePut},
		{"ConcurrentPutNewer", concurrentPutNewer},
		{"ExpiryClampedToMaxLife", expiryClampedToMaxLife},
		{"CancelledContext", cancelledContext},
		{"BadKeys", badKeys},
		{"KeysAreSeparate", keysAreSeparate},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := testclock.New()
			c.run(t, newStore(t, clk.Now), clk)
		})
	}
}

func claim(t *testing.T, s state.Store, key string, expires time.Time) bool {
	t.Helper()
	won, err := s.Claim(t.Context(), key, expires)
	if err != nil {
		t.Fatalf("Claim(%s): %v", key, err)
	}
	return won
}

func count(t *testing.T, s state.Store, key string, limit int, expires time.Time) bool {
	t.Helper()
	ok, err := s.Count(t.Context(), key, limit, expires)
	if err != nil {
		t.Fatalf("Count(%s, %d): %v", key, limit, err)
	}
	return ok
}

func put(t *testing.T, s state.Store, key, value string, expires time.Time) {
	t.Helper()
	if err := s.Put(t.Context(), key, []byte(value), expires); err != nil {
		t.Fatalf("Put(%s): %v", key, err)
	}
}

func putNewerOK(t *testing.T, s state.Store, key, value string, version int64, expires time.Time) bool {
	t.Helper()
	wrote, err := s.PutNewer(t.Context(), key, []byte(value), version, expires)
	if err != nil {
		t.Fatalf("PutNewer(%s, %d): %v", key, version, err)
	}
	return wrote
}

// wantValue checks that key holds value.
func wantValue(t *testing.T, s state.Store, key, value string) {
	t.Helper()
	got, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%s): %v, want %q", key, err, value)
	}
	if string(got) != value {
		t.Fatalf("Get(%s) = %q, want %q", key, got, value)
	}
}

// wantNotFound checks that key holds no live value.
func wantNotFound(t *testing.T, s state.Store, key string) {
	t.Helper()
	got, err := s.Get(t.Context(), key)
	if !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("Get(%s) = %q, %v; want state.ErrNotFound", key, got, err)
	}
}

// parallel runs f n times at once and returns how many returned true.
func parallel(t *testing.T, n int, f func(i int) (bool, error)) int {
	t.Helper()
	var yes atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			ok, err := f(i)
			if err != nil {
				errs <- err
			}
			if ok {
				yes.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	return int(yes.Load())
}

func claimOnce(t *testing.T, s state.Store, clk *testclock.Clock) {
	exp := clk.Now().Add(time.Hour)
	if !claim(t, s, "event-1", exp) {
		t.Fatal("first claim lost")
	}
	if claim(t, s, "event-1", exp) {
		t.Fatal("second claim of a live claim won")
	}
	if !claim(t, s, "event-2", exp) {
		t.Fatal("claim of another key lost")
	}
}

func concurrentClaims(t *testing.T, s state.Store, clk *testclock.Clock) {
	exp := clk.Now().Add(10 * time.Second)
	claimAll := func(i int) (bool, error) { return s.Claim(t.Context(), "event", exp) }
	if n := parallel(t, 50, claimAll); n != 1 {
		t.Fatalf("%d of 50 concurrent claims won, want exactly 1", n)
	}
	// And again once that claim has expired: exactly one takes it over.
	clk.Advance(11 * time.Second)
	exp = clk.Now().Add(10 * time.Second)
	if n := parallel(t, 50, claimAll); n != 1 {
		t.Fatalf("%d of 50 concurrent claims of an expired claim won, want exactly 1", n)
	}
}

func claimAfterExpiry(t *testing.T, s state.Store, clk *testclock.Clock) {
	if !claim(t, s, "event", clk.Now().Add(10*time.Second)) {
		t.Fatal("first claim lost")
	}
	clk.Advance(9 * time.Second)
	if claim(t, s, "event", clk.Now().Add(10*time.Second)) {
		t.Fatal("claim won a second before the first one expires")
	}
	clk.Advance(2 * time.Second)
	if !claim(t, s, "event", clk.Now().Add(10*time.Second)) {
		t.Fatal("claim lost after the first one expired")
	}
	// The new claim holds for its own expiry.
	if claim(t, s, "event", clk.Now().Add(10*time.Second)) {
		t.Fatal("the renewed claim did not hold")
	}
}

func releaseThenClaim(t *testing.T, s state.Store, clk *testclock.Clock) {
	exp := clk.Now().Add(time.Hour)
	if !claim(t, s, "event", exp) {
		t.Fatal("first claim lost")
	}
	if err := s.Release(t.Context(), "event"); err != nil {
		t.Fatal(err)
	}
	if !claim(t, s, "event", exp) {
		t.Fatal("claim after release lost")
	}
	if err := s.Release(t.Context(), "never-claimed"); err != nil {
		t.Fatalf("Release of a key never claimed: %v, want nil", err)
	}
}

func countUpToLimit(t *testing.T, s state.Store, clk *testclock.Clock) {
	exp := clk.Now().Add(time.Hour)
	for i := range 3 {
		if !count(t, s, "ip", 3, exp) {
			t.Fatalf("count %d of 3 refused", i+1)
		}
	}
	for range 3 {
		if count(t, s, "ip", 3, exp) {
			t.Fatal("count beyond the limit allowed")
		}
	}
	// The refusals added nothing: with a limit one higher, exactly one
	// more count fits.
	if !count(t, s, "ip", 4, exp) {
		t.Fatal("a refused count was counted: the counter passed 3")
	}
	if count(t, s, "ip", 4, exp) {
		t.Fatal("count beyond the raised limit allowed")
	}
	if !count(t, s, "other-ip", 3, exp) {
		t.Fatal("another key's counter is not separate")
	}
}

func countZeroLimit(t *testing.T, s state.Store, clk *testclock.Clock) {
	exp := clk.Now().Add(time.Hour)
	if count(t, s, "ip", 0, exp) {
		t.Fatal("count with limit 0 allowed")
	}
	// Nothing was written: a limit of 1 allows one count.
	if !count(t, s, "ip", 1, exp) {
		t.Fatal("count with limit 1 refused after a limit-0 count")
	}
}

func concurrentCounts(t *testing.T, s state.Store, clk *testclock.Clock) {
	exp := clk.Now().Add(time.Hour)
	n := parallel(t, 40, func(int) (bool, error) { return s.Count(t.Context(), "day", 10, exp) })
	if n != 10 {
		t.Fatalf("%d of 40 concurrent counts with limit 10 allowed, want exactly 10", n)
	}
}

func expiredCounterRestarts(t *testing.T, s state.Store, clk *testclock.Clock) {
	exp := clk.Now().Add(10 * time.Second)
	for i, want := range []bool{true, true, false} {
		if got := count(t, s, "ip", 2, exp); got != want {
			t.Fatalf("count %d with limit 2 = %v, want %v", i+1, got, want)
		}
	}
	clk.Advance(11 * time.Second)
	exp = clk.Now().Add(10 * time.Second)
	// Restarted at one: one more count fits, not zero and not two.
	if !count(t, s, "ip", 2, exp) {
		t.Fatal("count on an expired counter refused")
	}
	if !count(t, s, "ip", 2, exp) {
		t.Fatal("the restarted counter did not start at one")
	}
	if count(t, s, "ip", 2, exp) {
		t.Fatal("the restarted counter went past its limit")
	}
}

func counterKeepsFirstExpiry(t *testing.T, s state.Store, clk *testclock.Clock) {
	if !count(t, s, "ip", 2, clk.Now().Add(10*time.Second)) {
		t.Fatal("first count refused")
	}
	clk.Advance(5 * time.Second)
	// A later count does not extend the counter's life...
	if !count(t, s, "ip", 2, clk.Now().Add(10*time.Second)) {
		t.Fatal("second count refused")
	}
	// ...so 11 s after the first count it has expired and starts again.
	clk.Advance(6 * time.Second)
	if !count(t, s, "ip", 2, clk.Now().Add(10*time.Second)) {
		t.Fatal("the counter lived past the expiry of the count that started it")
	}
}

func concurrentCountsOnExpiredCounter(t *testing.T, s state.Store, clk *testclock.Clock) {
	exp := clk.Now().Add(10 * time.Second)
	for range 10 {
		count(t, s, "day", 10, exp)
	}
	if count(t, s, "day", 10, exp) {
		t.Fatal("count beyond the limit allowed")
	}
	clk.Advance(11 * time.Second)
	exp = clk.Now().Add(10 * time.Second)
	n := parallel(t, 40, func(int) (bool, error) { return s.Count(t.Context(), "day", 10, exp) })
	if n != 10 {
		t.Fatalf("%d of 40 concurrent counts on an expired counter with limit 10 allowed, want exactly 10", n)
	}
}

func putGet(t *testing.T, s state.Store, clk *testclock.Clock) {
	exp := clk.Now().Add(time.Hour)
	put(t, s, "token", "client-1", exp)
	wantValue(t, s, "token", "client-1")
	put(t, s, "token", "client-2", exp)
	wantValue(t, s, "token", "client-2")
	put(t, s, "empty", "", exp)
	wantValue(t, s, "empty", "")
	// Bytes that are not text survive.
	bin := string([]byte{0, 1, 0xff, 0xfe, '\n', 0})
	put(t, s, "binary", bin, exp)
	wantValue(t, s, "binary", bin)
}

func getMissing(t *testing.T, s state.Store, _ *testclock.Clock) {
	wantNotFound(t, s, "never-written")
}

func getExpired(t *testing.T, s state.Store, clk *testclock.Clock) {
	put(t, s, "token", "client-1", clk.Now().Add(10*time.Second))
	clk.Advance(9 * time.Second)
	wantValue(t, s, "token", "client-1")
	clk.Advance(2 * time.Second)
	wantNotFound(t, s, "token")
}

func valuesAreCopies(t *testing.T, s state.Store, clk *testclock.Clock) {
	v := []byte("client-1")
	if err := s.Put(t.Context(), "token", v, clk.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	v[0] = 'X'
	got, err := s.Get(t.Context(), "token")
	if err != nil {
		t.Fatal(err)
	}
	got[1] = 'Y'
	wantValue(t, s, "token", "client-1")
}

func putNewer(t *testing.T, s state.Store, clk *testclock.Clock) {
	exp := clk.Now().Add(time.Hour)
	if !putNewerOK(t, s, "status", "v5", 5, exp) {
		t.Fatal("PutNewer on a missing key did not write")
	}
	if putNewerOK(t, s, "status", "v3", 3, exp) {
		t.Fatal("an older version overwrote a newer one")
	}
	wantValue(t, s, "status", "v5")
	if putNewerOK(t, s, "status", "v5-again", 5, exp) {
		t.Fatal("an equal version overwrote")
	}
	wantValue(t, s, "status", "v5")
	if !putNewerOK(t, s, "status", "v6", 6, exp) {
		t.Fatal("a newer version did not overwrite")
	}
	wantValue(t, s, "status", "v6")
	// Versions are milliseconds since 1970 in practice: large numbers
	// compare as numbers, not as text.
	if !putNewerOK(t, s, "status", "big", 1_760_000_000_000, exp) {
		t.Fatal("a large newer version did not overwrite")
	}
	if putNewerOK(t, s, "status", "smaller", 999_999_999_999, exp) {
		t.Fatal("a version with fewer digits overwrote a larger one")
	}
	wantValue(t, s, "status", "big")
}

func putNewerReplacesExpired(t *testing.T, s state.Store, clk *testclock.Clock) {
	if !putNewerOK(t, s, "status", "v10", 10, clk.Now().Add(10*time.Second)) {
		t.Fatal("first PutNewer did not write")
	}
	clk.Advance(11 * time.Second)
	if !putNewerOK(t, s, "status", "v1", 1, clk.Now().Add(10*time.Second)) {
		t.Fatal("an older version did not replace an expired newer one")
	}
	wantValue(t, s, "status", "v1")
}

// putNewerDoesNotReplaceLivePut pins a corner both stores must agree on:
// a live value written by Put has no version, and PutNewer leaves it.
func putNewerDoesNotReplaceLivePut(t *testing.T, s state.Store, clk *testclock.Clock) {
	put(t, s, "status", "plain", clk.Now().Add(10*time.Second))
	if putNewerOK(t, s, "status", "versioned", 1, clk.Now().Add(10*time.Second)) {
		t.Fatal("PutNewer replaced a live value written by Put")
	}
	wantValue(t, s, "status", "plain")
	clk.Advance(11 * time.Second)
	if !putNewerOK(t, s, "status", "versioned", 1, clk.Now().Add(10*time.Second)) {
		t.Fatal("PutNewer did not replace an expired value written by Put")
	}
}

func concurrentPutNewer(t *testing.T, s state.Store, clk *testclock.Clock) {
	exp := clk.Now().Add(time.Hour)
	parallel(t, 20, func(i int) (bool, error) {
		return s.PutNewer(t.Context(), "status", fmt.Appendf(nil, "v%d", i+1), int64(i+1), exp)
	})
	wantValue(t, s, "status", "v20")
}

func expiryClampedToMaxLife(t *testing.T, s state.Store, clk *testclock.Clock) {
	far := clk.Now().Add(2 * state.MaxLife)
	if !claim(t, s, "event", far) {
		t.Fatal("claim lost")
	}
	if !count(t, s, "ip", 1, far) {
		t.Fatal("count refused")
	}
	put(t, s, "token", "client-1", far)
	if !putNewerOK(t, s, "status", "v1", 1, far) {
		t.Fatal("PutNewer did not write")
	}
	clk.Advance(state.MaxLife - time.Second)
	wantValue(t, s, "token", "client-1")
	clk.Advance(2 * time.Second)
	if !claim(t, s, "event", far) {
		t.Fatal("a claim lived longer than state.MaxLife")
	}
	if !count(t, s, "ip", 1, far) {
		t.Fatal("a counter lived longer than state.MaxLife")
	}
	wantNotFound(t, s, "token")
	if !putNewerOK(t, s, "status", "v0", 0, far) {
		t.Fatal("a versioned value lived longer than state.MaxLife")
	}
}

func cancelledContext(t *testing.T, s state.Store, clk *testclock.Clock) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	exp := clk.Now().Add(time.Hour)
	if won, err := s.Claim(ctx, "event", exp); err == nil || won {
		t.Errorf("Claim with a cancelled context = %v, %v; want false and an error", won, err)
	}
	if ok, err := s.Count(ctx, "ip", 5, exp); err == nil || ok {
		t.Errorf("Count with a cancelled context = %v, %v; want false and an error", ok, err)
	}
	if err := s.Put(ctx, "token", []byte("x"), exp); err == nil {
		t.Error("Put with a cancelled context: no error")
	}
	if wrote, err := s.PutNewer(ctx, "status", []byte("x"), 1, exp); err == nil || wrote {
		t.Errorf("PutNewer with a cancelled context = %v, %v; want false and an error", wrote, err)
	}
	if v, err := s.Get(ctx, "token"); err == nil || errors.Is(err, state.ErrNotFound) {
		t.Errorf("Get with a cancelled context = %q, %v; want an error other than ErrNotFound", v, err)
	}
	if err := s.Release(ctx, "event"); err == nil {
		t.Error("Release with a cancelled context: no error")
	}
	// Nothing was written.
	if !claim(t, s, "event", exp) || !count(t, s, "ip", 1, exp) {
		t.Error("a call with a cancelled context wrote")
	}
	wantNotFound(t, s, "token")
	wantNotFound(t, s, "status")
}

func badKeys(t *testing.T, s state.Store, clk *testclock.Clock) {
	exp := clk.Now().Add(time.Hour)
	for _, key := range []string{"", strings.Repeat("k", 2049)} {
		if _, err := s.Claim(t.Context(), key, exp); err == nil {
			t.Errorf("Claim of a %d-byte key: no error", len(key))
		}
		if _, err := s.Count(t.Context(), key, 5, exp); err == nil {
			t.Errorf("Count of a %d-byte key: no error", len(key))
		}
		if err := s.Put(t.Context(), key, []byte("x"), exp); err == nil {
			t.Errorf("Put of a %d-byte key: no error", len(key))
		}
		if _, err := s.PutNewer(t.Context(), key, []byte("x"), 1, exp); err == nil {
			t.Errorf("PutNewer of a %d-byte key: no error", len(key))
		}
		if _, err := s.Get(t.Context(), key); err == nil || errors.Is(err, state.ErrNotFound) {
			t.Errorf("Get of a %d-byte key = %v; want an error other than ErrNotFound", len(key), err)
		}
		if err := s.Release(t.Context(), key); err == nil {
			t.Errorf("Release of a %d-byte key: no error", len(key))
		}
	}
	// The longest key DynamoDB takes works.
	long := strings.Repeat("k", 2048)
	put(t, s, long, "v", exp)
	wantValue(t, s, long, "v")
}

func keysAreSeparate(t *testing.T, s state.Store, clk *testclock.Clock) {
	exp := clk.Now().Add(time.Hour)
	put(t, s, "a", "1", exp)
	put(t, s, "A", "2", exp)
	put(t, s, "a ", "3", exp)
	wantValue(t, s, "a", "1")
	wantValue(t, s, "A", "2")
	wantValue(t, s, "a ", "3")
}
