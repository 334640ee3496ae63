package simulator_test

import (
	"strconv"
	"testing"
	"time"
)

// TestRateLimit: above the configured rate, 429 with ComplyCube's
// documented body and a Retry-After in whole seconds; under it again
// after that wait.
func TestRateLimit(t *testing.T) {
	sim, srv := start(t)
	sim.SetRateLimit(5)
	var limited int
	var retryAfter string
	for i := 0; i < 8; i++ {
		status, h, body := call(t, srv, "/v1/flow/sessions", valid)
		if status == 429 {
			limited++
			retryAfter = h.Get("Retry-After")
			if body != `{"type":"rate_limit_exceeded","message":"You have exceeded the rate limit prescribed to your plan"}` {
				t.Errorf("429 body %s", body)
			}
		}
	}
	if limited < 3 {
		t.Fatalf("%d of 8 immediate calls limited at 5/s; want at least 3", limited)
	}
	secs, err := strconv.Atoi(retryAfter)
	if err != nil || secs < 1 {
		t.Fatalf("Retry-After %q", retryAfter)
	}
	time.Sleep(time.Duration(secs) * time.Second)
	if status, _, body := call(t, srv, "/v1/flow/sessions", valid); status != 200 {
		t.Errorf("after Retry-After: %d %s", status, body)
	}
}
