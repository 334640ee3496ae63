package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Load tests through the dev server and the simulator, on loopback only,
// bounded in count and time. CI runs them reduced; LOAD_REQUESTS=20000
// gives the figures in RELIABILITY.md.

func loadRequests(t *testing.T, reduced int) int {
	if v := os.Getenv("LOAD_REQUESTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1_000_000 {
			t.Fatalf("LOAD_REQUESTS=%q", v)
		}
		return n
	}
	return reduced
}

type loadResult struct {
	latencies []time.Duration
	statuses  map[int]int
	wrong     []string
}

// runLoad sends n POSTs with c workers and checks each answer with check.
func runLoad(t *testing.T, d *devServer, n, c int, check func(status int, body []byte, h http.Header) string) loadResult {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	body := []byte(`{"clientId":"5eb04fcd0f3e360008035eb1","workflowTemplateId":"wt_load","successUrl":"` + d.site + `/success.html","cancelUrl":"` + d.site + `/cancel.html"}`)
	var mu sync.Mutex
	res := loadResult{statuses: map[int]int{}}
	jobs := make(chan struct{})
	var wg sync.WaitGroup
	deadline := time.Now().Add(5 * time.Minute) // a bound whatever happens
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				req, _ := http.NewRequest("POST", d.api+"/sessions", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Origin", d.site)
				start := time.Now()
				resp, err := client.Do(req)
				var status int
				var data []byte
				var h http.Header
				if err == nil {
					data, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					status, h = resp.StatusCode, resp.Header
				}
				took := time.Since(start)
				mu.Lock()
				res.latencies = append(res.latencies, took)
				res.statuses[status]++
				if err != nil {
					res.wrong = append(res.wrong, "lost: "+err.Error())
				} else if why := check(status, data, h); why != "" {
					res.wrong = append(res.wrong, why)
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < n && time.Now().Before(deadline); i++ {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	if len(res.latencies) != n {
		t.Fatalf("sent %d of %d requests within the bound", len(res.latencies), n)
	}
	return res
}

func percentiles(d []time.Duration) string {
	s := slices.Clone(d)
	slices.Sort(s)
	p := func(q float64) time.Duration { return s[int(q*float64(len(s)-1))] }
	return fmt.Sprintf("p50 %v, p90 %v, p99 %v, max %v", p(.5).Round(10*time.Microsecond), p(.9).Round(10*time.Microsecond), p(.99).Round(10*time.Microsecond), s[len(s)-1].Round(10*time.Microsecond))
}

// settle returns the goroutine count and heap in use once the process has
// quietened down.
func settle() (goroutines int, heapMB float64) {
	var ms runtime.MemStats
	for i := 0; i < 20; i++ {
		runtime.GC()
		time.Sleep(50 * time.Millisecond)
	}
	runtime.ReadMemStats(&ms)
	return runtime.NumGoroutine(), float64(ms.HeapInuse) / (1 << 20)
}

func okAnswer(d *devServer) func(int, []byte, http.Header) string {
	return func(status int, body []byte, h http.Header) string {
		var ok struct{ RedirectURL string }
		if status != 200 || json.Unmarshal(body, &ok) != nil || !strings.HasPrefix(ok.RedirectURL, d.sim+"/session/test_") {
			return fmt.Sprintf("%d %s", status, body)
		}
		if h.Get("Access-Control-Allow-Origin") != d.site || h.Get("Cache-Control") != "no-store" {
			return fmt.Sprintf("headers %v", h)
		}
		return ""
	}
}

// TestLoad: N requests at 50 concurrent through the dev server and the
// simulator, twice; no wrong answer; goroutines back to baseline; the heap
// after the second round no larger than after the first (the simulator
// keeps up to 10,000 sessions, so the first round may grow it once).
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test; -short skips it")
	}
	n := loadRequests(t, 2000)
	// Request mode and no simulated rate limit: this measures the
	// function, not ComplyCube's 5-a-second sandbox.
	d := startDevServerArgs(t, map[string]string{"CLIENT_SOURCE": "request"}, "-simulator-rate", "0")
	d.out.StopKeeping()
	// Warm up at the load's own concurrency for long enough that the
	// connection pools (each idle connection is two goroutines of its
	// client and one of its server) reach the size the load keeps: 50
	// requests left the baseline some 20 goroutines short of it now and
	// then, which is no leak (the second round adds none).
	runLoad(t, d, 500, 50, okAnswer(d))
	g0, h0 := settle()
	start := time.Now()
	res := runLoad(t, d, n, 50, okAnswer(d))
	elapsed := time.Since(start)
	g1, h1 := settle()
	again := runLoad(t, d, n, 50, okAnswer(d))
	g2, h2 := settle()
	t.Logf("load: %d requests at 50 concurrent in %v (%.0f/s); %s; wrong %d; goroutines %d -> %d -> %d; heap in use %.1f -> %.1f -> %.1f MB (before, after round 1, after round 2)",
		n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), percentiles(res.latencies), len(res.wrong)+len(again.wrong), g0, g1, g2, h0, h1, h2)
	for _, r := range []loadResult{res, again} {
		if len(r.wrong) > 0 {
			t.Errorf("%d wrong answers, first: %s", len(r.wrong), r.wrong[0])
		}
	}
	if g1 > g0+10 || g2 > g0+10 {
		t.Errorf("goroutines %d, %d after load, %d before", g1, g2, g0)
	}
	if h2 > h1*1.25+2 {
		t.Errorf("heap in use grew from %.1f to %.1f MB in the second round", h1, h2)
	}
}

// TestLoadWithFaults: the same while the simulator fails 10% of calls at
// random (resets, 500s, answers later than UPSTREAM_TIMEOUT). Every answer
// must be one the contract allows, none lost, none later than its deadline.
func TestLoadWithFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("load test; -short skips it")
	}
	n := loadRequests(t, 1000)
	const upstreamTimeout = 500 * time.Millisecond
	d := startDevServerArgs(t, map[string]string{"UPSTREAM_TIMEOUT": upstreamTimeout.String(), "CLIENT_SOURCE": "request"}, "-simulator-fault-rate", "0.1", "-simulator-fault-delay", "800ms", "-simulator-rate", "0")
	d.out.StopKeeping()
	good := okAnswer(d)
	upstreamError := `{"type":"upstream_error","message":"The verification service could not be reached."}`
	upstreamTimeout504 := `{"type":"upstream_timeout","message":"The verification service did not answer in time."}`
	check := func(status int, body []byte, h http.Header) string {
		switch status {
		case 200:
			return good(status, body, h)
		case 502:
			if string(body) != upstreamError {
				return "502 body " + string(body)
			}
		case 504:
			if string(body) != upstreamTimeout504 {
				return "504 body " + string(body)
			}
		default:
			return fmt.Sprintf("status %d is not allowed here: %s", status, body)
		}
		if h.Get("Access-Control-Allow-Origin") != d.site {
			return "error without CORS headers"
		}
		return ""
	}
	start := time.Now()
	res := runLoad(t, d, n, 50, check)
	elapsed := time.Since(start)
	resets, e500, slow := d.simulator.Faults()
	t.Logf("load with faults: %d requests in %v; statuses %v; faults injected: %d resets, %d 500s, %d slow; %s; wrong %d",
		n, elapsed.Round(time.Millisecond), res.statuses, resets, e500, slow, percentiles(res.latencies), len(res.wrong))
	if len(res.wrong) > 0 {
		t.Errorf("%d wrong answers, first: %s", len(res.wrong), res.wrong[0])
	}
	if resets+e500+slow == 0 {
		t.Error("no fault was injected")
	}
	// The longest a request may take: two attempts at UPSTREAM_TIMEOUT and
	// the back-off, well inside the invocation's 15 s.
	if max := slices.Max(res.latencies); max > 2*upstreamTimeout+time.Second {
		t.Errorf("a request took %v", max)
	}
}
