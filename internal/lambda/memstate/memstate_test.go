package memstate

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/complycube-session/createsession/handler/state"
	"github.com/complycube-session/createsession/internal/testonly/statetest"
	"github.com/complycube-session/createsession/internal/testonly/testclock"
)

func TestConformance(t *testing.T) {
	statetest.Run(t, func(t *testing.T, now func() time.Time) state.Store {
		return New(WithClock(now))
	})
}

// TestFull: a full store refuses a new key (it never drops a live item,
// which could let a limit pass), still writes to keys it holds, and takes
// new keys again once items have expired.
func TestFull(t *testing.T) {
	clk := testclock.New()
	s := New(WithClock(clk.Now), WithMaxItems(3))
	ctx := t.Context()
	for _, k := range []string{"a", "b", "c"} {
		if won, err := s.Claim(ctx, k, clk.Now().Add(10*time.Second)); !won || err != nil {
			t.Fatalf("Claim(%s) = %v, %v", k, won, err)
		}
	}
	if won, err := s.Claim(ctx, "d", clk.Now().Add(10*time.Second)); won || !errors.Is(err, ErrFull) {
		t.Fatalf("Claim of a 4th key = %v, %v; want ErrFull", won, err)
	}
	if ok, err := s.Count(ctx, "d", 5, clk.Now().Add(10*time.Second)); ok || !errors.Is(err, ErrFull) {
		t.Fatalf("Count of a 4th key = %v, %v; want ErrFull", ok, err)
	}
	if err := s.Put(ctx, "a", []byte("v"), clk.Now().Add(20*time.Second)); err != nil {
		t.Fatalf("Put to a key held: %v", err)
	}
	clk.Advance(11 * time.Second) // b and c expire; a (Put above) lives on
	if err := s.Put(ctx, "d", []byte("v"), clk.Now().Add(10*time.Second)); err != nil {
		t.Fatalf("Put of a new key after items expired: %v", err)
	}
	if n := len(s.items); n != 2 {
		t.Errorf("%d items held, want 2 (a and d)", n)
	}
}

// TestSweep: expired items do not stay in memory: a write a minute later
// drops them.
func TestSweep(t *testing.T) {
	clk := testclock.New()
	s := New(WithClock(clk.Now))
	ctx := t.Context()
	for i := range 1000 {
		if _, err := s.Count(ctx, fmt.Sprint("ip-", i), 5, clk.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(2 * time.Minute)
	if _, err := s.Claim(ctx, "new", clk.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := len(s.items); n != 1 {
		t.Errorf("%d items held after the sweep, want 1", n)
	}
}

// TestDefaultClock: without WithClock the store uses the real time (an
// expiry an hour ahead is live, one a minute ago is not).
func TestDefaultClock(t *testing.T) {
	s := New()
	ctx := t.Context()
	if err := s.Put(ctx, "live", []byte("v"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "dead", []byte("v"), time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "live"); err != nil {
		t.Errorf("Get(live): %v", err)
	}
	if _, err := s.Get(ctx, "dead"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("Get(dead): %v, want ErrNotFound", err)
	}
}
