package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/complycube-session/createsession/internal/local/simulator"
	"github.com/complycube-session/createsession/internal/testonly/dynalite"
	"github.com/complycube-session/createsession/internal/testonly/fakesecretsmanager"
	"github.com/complycube-session/createsession/internal/testonly/faketurnstile"
	"github.com/complycube-session/createsession/internal/testonly/lambdaemu"
)

// The template's defaults that the flood meets (template.yaml): API
// Gateway's route limit on POST /sessions, and the function's sign-up
// limits. SIGNUPS_PER_DAY is lowered so that a bounded run reaches it.
const (
	gatewayRate  = 2.5 // requests a second
	gatewayBurst = 2
	floodPerIP   = 5
	floodPerDay  = 40
)

// TestSignupFlood runs two instances of the real bootstrap under the
// Lambda emulator, on one real DynamoDB API (dynalite), with the bot check
// (a fake siteverify) and the ComplyCube simulator at a sandbox key's
// 5 calls a second, behind a token bucket that does what API Gateway's
// route limit does. Four senders share it for FLOOD_SECONDS (default 12):
// a script from one address with solved bot checks, a script from a new
// address every time with solved bot checks, a script with bad bot
// tokens, and real visitors, one a second, each from their own address.
// It checks that nothing is lost or counted twice across the instances
// (every client ComplyCube created is one 200, no address gets past its
// limit, the day's cap holds, no bad token reaches ComplyCube, ComplyCube
// never answers 429), and prints the table RELIABILITY.md quotes.
func TestSignupFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("load test under the emulator; -short skips it")
	}
	seconds := 12
	if v := os.Getenv("FLOOD_SECONDS"); v != "" {
		var err error
		if seconds, err = strconv.Atoi(v); err != nil || seconds < 2 || seconds > 600 {
			t.Fatalf("FLOOD_SECONDS=%q", v)
		}
	}
	rie, bootstrap := bootstrapPath(t)
	db := dynalite.Start(t)
	db.CreateTable(t, "flood-state")
	ts := faketurnstile.Start()
	t.Cleanup(ts.Close)
	sm := fakesecretsmanager.Start()
	t.Cleanup(sm.Close)
	sm.SetSecret(e2eSecretID, `{"apiKey":"`+e2eKey+`","turnstileSecretKey":"`+ts.Secret()+`"}`)
	sim := simulator.New("", e2eKey)
	sim.SetRateLimit(simulator.DefaultRate)
	cc := &answerCounter{next: sim, byPath: map[string]map[int]int{}}
	ccSrv := httptest.NewServer(cc)
	t.Cleanup(ccSrv.Close)
	sim.SetPublicURL(ccSrv.URL)
	env := append(append(lambdaemu.AWSEnv(sm.URL()), db.Env("flood-state")...),
		"COMPLYCUBE_SECRET_ID="+e2eSecretID, "COMPLYCUBE_BASE_URL="+ccSrv.URL, "ALLOWED_ORIGINS="+e2eOrigin,
		"CLIENT_SOURCE=signup", "WORKFLOW_TEMPLATE_IDS=wt_e2e", "BOT_CHECK=turnstile", "TURNSTILE_VERIFY_URL="+ts.URL(),
		"SIGNUPS_PER_IP="+strconv.Itoa(floodPerIP), "SIGNUPS_PER_DAY="+strconv.Itoa(floodPerDay))
	var instances []*instance
	for i := 0; i < 2; i++ {
		emu, err := lambdaemu.Start(rie, bootstrap, env)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(emu.Stop)
		instances = append(instances, &instance{emu: emu})
	}
	pool := &instancePool{free: make(chan *instance, len(instances))}
	for _, in := range instances {
		pool.free <- in
	}
	host := strings.TrimPrefix(e2eOrigin, "https://")
	gateway := newTokenBucket(gatewayRate, gatewayBurst)

	senders := []*sender{
		{name: "one address, bots solved", ip: func(int) string { return "203.0.113.66" }, token: func() string { return ts.Issue(host) }},
		{name: "a new address each time, bots solved", ip: func(i int) string { return fmt.Sprintf("198.18.%d.%d", i/250, i%250+1) }, token: func() string { return ts.Issue(host) }},
		{name: "bad bot tokens", ip: func(i int) string { return fmt.Sprintf("198.19.%d.%d", i/250, i%250+1) }, token: func() string { return "XXXX.DUMMY.TOKEN.XXXX" }},
		{name: "real visitors, one a second", ip: func(i int) string { return fmt.Sprintf("192.0.2.%d", i%250+1) }, token: func() string { return ts.Issue(host) }, every: time.Second},
	}
	deadline := time.Now().Add(time.Duration(seconds) * time.Second)
	var wg sync.WaitGroup
	for si, s := range senders {
		s.codes = map[int]int{}
		wg.Add(1)
		go func(si int, s *sender) {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				if s.every > 0 {
					time.Sleep(s.every)
				}
				s.sent++
				if !gateway.take() {
					s.add(http.StatusTooManyRequests) // API Gateway's own 429: the function is not invoked
					s.throttled++
					if s.every == 0 {
						time.Sleep(20 * time.Millisecond) // a script retries at once; keep the loop bounded
					}
					continue
				}
				email := fmt.Sprintf("s%d-%d@flood.example", si, i)
				body := `{"client":{"type":"person","email":"` + email + `","personDetails":{"firstName":"Flo","lastName":"Od"}},` +
					`"successUrl":"` + e2eOrigin + `/done","cancelUrl":"` + e2eOrigin + `/cancel","turnstileToken":"` + s.token() + `"}`
				s.add(pool.invoke(t, s.ip(i), body))
			}
		}(si, s)
	}
	wg.Wait()

	created := cc.count("/v1/clients", 200) + cc.count("/v1/clients", 201)
	sessions := cc.count("/v1/flow/sessions", 200) + cc.count("/v1/flow/sessions", 201)
	ok := 0
	var report strings.Builder
	fmt.Fprintf(&report, "\nflood of %d s through a %.1f/s burst %d route limit; 2 instances; SIGNUPS_PER_IP=%d SIGNUPS_PER_DAY=%d\n", seconds, gatewayRate, gatewayBurst, floodPerIP, floodPerDay)
	fmt.Fprintf(&report, "| sender | sent | API Gateway 429 | 200 | 429 (function) | 403 | other |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, s := range senders {
		other := 0
		for code, n := range s.codes {
			if code != 200 && code != 429 && code != 403 {
				other += n
			}
		}
		ok += s.codes[200]
		fmt.Fprintf(&report, "| %s | %d | %d | %d | %d | %d | %d %v |\n", s.name, s.sent, s.throttled, s.codes[200], s.codes[429]-s.throttled, s.codes[403], other, s.codes)
	}
	fmt.Fprintf(&report, "ComplyCube: %d calls, %d clients created, %d sessions, %d answered 429\n", cc.total(), created, sessions, cc.count("/v1/clients", 429)+cc.count("/v1/flow/sessions", 429))
	t.Log(report.String())

	if created != ok || sessions != ok {
		t.Errorf("%d sign-ups answered 200, but ComplyCube created %d clients and %d sessions: something was lost or counted twice", ok, created, sessions)
	}
	if one := senders[0].codes[200]; one > floodPerIP {
		t.Errorf("one address got %d sign-ups past SIGNUPS_PER_IP=%d across two instances", one, floodPerIP)
	}
	if created > floodPerDay {
		t.Errorf("%d clients created, past SIGNUPS_PER_DAY=%d", created, floodPerDay)
	}
	if senders[2].codes[200] != 0 {
		t.Errorf("%d sign-ups with bad bot tokens went through", senders[2].codes[200])
	}
	if n := cc.count("/v1/clients", 429) + cc.count("/v1/flow/sessions", 429); n != 0 {
		t.Errorf("ComplyCube answered 429 %d times: the route limit does not keep a sandbox key within its rate", n)
	}
	if senders[0].codes[200] == 0 || senders[1].codes[200] == 0 {
		t.Error("the flood got nothing through: the run measured nothing")
	}
}

type instance struct{ emu *lambdaemu.Emulator }

// instancePool hands each request to an idle instance, as Lambda does:
// one invocation at a time per instance.
type instancePool struct{ free chan *instance }

func (p *instancePool) invoke(t *testing.T, sourceIP, body string) int {
	in := <-p.free
	defer func() { p.free <- in }()
	ev, _ := json.Marshal(events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: "/sessions", Body: body,
		Headers:        map[string]string{"origin": e2eOrigin, "content-type": "application/json", "x-forwarded-for": "10.9.9.9"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/sessions", SourceIP: sourceIP}}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := in.emu.Invoke(ctx, ev)
	if err != nil {
		t.Errorf("invoke: %v", err)
		return 0
	}
	var r events.APIGatewayV2HTTPResponse
	if json.Unmarshal(out, &r) != nil {
		t.Errorf("not an HTTP API response: %s", out)
		return 0
	}
	return r.StatusCode
}

type sender struct {
	name      string
	ip        func(i int) string
	token     func() string
	every     time.Duration
	mu        sync.Mutex
	sent      int
	throttled int
	codes     map[int]int
}

func (s *sender) add(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code]++
}

// tokenBucket is API Gateway's throttle: rate a second, up to burst.
type tokenBucket struct {
	mu           sync.Mutex
	rate, tokens float64
	burst        float64
	last         time.Time
}

func newTokenBucket(rate float64, burst int) *tokenBucket {
	return &tokenBucket{rate: rate, tokens: float64(burst), burst: float64(burst), last: time.Now()}
}

func (b *tokenBucket) take() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	b.tokens = math.Min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// answerCounter counts the simulator's answers by path and status.
type answerCounter struct {
	next   http.Handler
	mu     sync.Mutex
	byPath map[string]map[int]int
	calls  atomic.Int64
}

func (c *answerCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w, status: 200}
	c.next.ServeHTTP(rec, r)
	if strings.HasPrefix(r.URL.Path, "/v1/") {
		c.calls.Add(1)
		c.mu.Lock()
		p := strings.TrimSuffix(r.URL.Path, "/")
		if c.byPath[p] == nil {
			c.byPath[p] = map[int]int{}
		}
		c.byPath[p][rec.status]++
		c.mu.Unlock()
	}
}

func (c *answerCounter) count(path string, status int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byPath[path][status]
}

func (c *answerCounter) total() int64 { return c.calls.Load() }

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}
