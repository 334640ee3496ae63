package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/complycube-session/createsession/internal/testonly/lambdaemu"
)

// TestEmulatorSequential sends sequential requests to one instance of the
// real bootstrap under the emulator: no failure, and flat memory (peak RSS
// after all of them no more than after the first tenth, within noise). CI
// runs 500; LOAD_REQUESTS=10000 gives the figure in RELIABILITY.md.
func TestEmulatorSequential(t *testing.T) {
	rie, bootstrap := bootstrapPath(t)
	n := 500
	if v := os.Getenv("LOAD_REQUESTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 10 || n > 100000 {
			t.Fatalf("LOAD_REQUESTS=%q", v)
		}
	}
	e := startEmulated(t, rie, bootstrap)
	e.sm.SetSecret(e2eSecretID, e2eKey)
	r := e.invoke("POST", browser, body("5eb04fcd0f3e360008035eb1")) // the cold start
	if r.StatusCode != 200 {
		t.Fatalf("cold start: %d %s", r.StatusCode, r.Body)
	}
	pid, err := e.emu.FunctionPID("bootstrap")
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte(`{"version":"2.0","rawPath":"/sessions","headers":{"origin":"` + e2eOrigin + `","content-type":"application/json"},"requestContext":{"http":{"method":"POST"}},"body":` + strconv.Quote(body("5eb04fcd0f3e360008035eb1")) + `}`)
	var hwmTenth int
	failures := 0
	start := time.Now()
	for i := 1; i <= n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := e.emu.Invoke(ctx, payload)
		cancel()
		if err != nil || !strings.Contains(string(out), `"statusCode":200`) {
			failures++
			if failures < 3 {
				t.Errorf("request %d: %v %s", i, err, out)
			}
		}
		if i == n/10 {
			if hwmTenth, err = lambdaemu.ProcStatusKB(pid, "VmHWM"); err != nil {
				t.Fatal(err)
			}
		}
	}
	hwm, err := lambdaemu.ProcStatusKB(pid, "VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d sequential requests in %v, %d failures; peak RSS %d kB after %d, %d kB after %d", n, time.Since(start).Round(time.Millisecond), failures, hwmTenth, n/10, hwm, n)
	if failures > 0 {
		t.Errorf("%d failures", failures)
	}
	if float64(hwm) > 1.2*float64(hwmTenth)+2048 {
		t.Errorf("memory grew: %d kB after %d requests, %d kB after %d", hwmTenth, n/10, hwm, n)
	}
}
