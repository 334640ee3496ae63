package main

// The functions as deployed: the create-session function in each client
// source (request, signup with the bot check, invitation), the status
// function and the webhook function, each with its table on a real
// DynamoDB API (dynalite) reached over TLS, as https://dynamodb.<region>
// is, and the services it calls (Cloudflare Turnstile, SNS) over TLS,
// each behind its own latency proxy. Every TLS fake serves the one test
// certificate that every httptest server uses, which the functions trust
// through the bench's CA bundle (or AL2023's trust store), and records its
// connections: when each was accepted and which calls it carried, so that
// the bench can say whether a connection was made during init and used by
// the first request, and count each request's DynamoDB calls.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/complycube-session/createsession/handler/invitation"
	"github.com/complycube-session/createsession/handler/state"
	"github.com/complycube-session/createsession/handler/webhook"
	"github.com/complycube-session/createsession/internal/lambda/dynamostate"
	"github.com/complycube-session/createsession/internal/local/turnstilestandin"
	"github.com/complycube-session/createsession/internal/testonly/dynalite"
	"github.com/complycube-session/createsession/internal/testonly/fakesns"
	"github.com/complycube-session/createsession/internal/testonly/faketurnstile"
)

const (
	stateTable = "bench-state"
	// jsonSecretID is the secret as the template's functions read it: a
	// JSON object with every key (the baseline reads secretID, a bare key).
	jsonSecretID  = "bench/complycube-json"
	webhookSecret = "whsec_YmVuY2gtd2ViaG9vay1zZWNyZXQ"
	invitationKey = "YmVuY2gtaW52aXRhdGlvbi1rZXktb2YtYXQtbGVhc3QtMzItYnl0ZXM"
	topicARN      = "arn:aws:sns:eu-west-1:123456789012:bench-alerts"
	invitedClient = "5eb04fcd0f3e360008035eb1"
	statusClient  = "5eb04fcd0f3e36000bench01"
	originHost    = "shop.example.com"
)

// Prices of DynamoDB on demand (LAMBDA.md, us-east-1, 2026): every item
// here is under 1 KB, so each write is one write unit and each strongly
// consistent read one read unit (a failed conditional write is charged
// too).
const (
	pricePerWrite = 0.625 / 1e6
	pricePerRead  = 0.125 / 1e6
)

// What one verification is assumed to make beyond its session request
// (docs/operating.md): three webhook events that each name the client and
// a status, delivered once; and a visitor who waits the whole minute on the
// success page, which polls every 3 s for 60 s (examples/static-site/
// status.js): 20 status polls.
const (
	eventsPerVerification = 3
	pollsPerVerification  = 20
)

// tlsFake serves a handler over TLS, directly and behind a latency proxy,
// and records each connection.
type tlsFake struct {
	srv   *httptest.Server
	proxy *latencyProxy
	op    func(*http.Request) string // the call's name, for the counts

	mu     sync.Mutex
	conns  []*connRecord
	byAddr map[string]*connRecord
}

type connRecord struct {
	accepted time.Time
	reqs     []reqRecord
}

type reqRecord struct {
	at time.Time
	op string
}

func startTLSFake(h http.Handler, http2 bool, rtt time.Duration, op func(*http.Request) string) (*tlsFake, error) {
	f := &tlsFake{op: op, byAddr: map[string]*connRecord{}}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.note(r)
		h.ServeHTTP(w, r)
	}))
	f.srv.Config.ConnState = func(c net.Conn, st http.ConnState) {
		if st != http.StateNew {
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		rec := &connRecord{accepted: time.Now()}
		f.conns = append(f.conns, rec)
		f.byAddr[c.RemoteAddr().String()] = rec
	}
	f.srv.EnableHTTP2 = http2
	f.srv.StartTLS()
	var err error
	if f.proxy, err = startLatencyProxy(f.srv.Listener.Addr().String(), rtt); err != nil {
		f.srv.Close()
		return nil, err
	}
	return f, nil
}

func (f *tlsFake) note(r *http.Request) {
	op := f.op(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	if rec := f.byAddr[r.RemoteAddr]; rec != nil {
		rec.reqs = append(rec.reqs, reqRecord{at: time.Now(), op: op})
	}
}

// addr is where a function reaches the fake: through the latency proxy or
// directly.
func (f *tlsFake) addr(withRTT bool) string {
	if withRTT {
		return f.proxy.Addr()
	}
	return f.srv.Listener.Addr().String()
}

func (f *tlsFake) close() {
	f.proxy.Close()
	f.srv.CloseClientConnections()
	f.srv.Close()
}

// connUse is what one cold start did with one service.
type connUse struct {
	conns    int           // connections opened during the cold start
	openedAt time.Duration // the first of them, after the process started (or the invoke)
	requests int           // calls during the cold start, on any connection
	onFirst  int           // of which on the first connection opened
	ops      map[string]int
}

// usage is what happened on f from `from` (before the emulator started)
// on; openedAt is measured from ref.
func (f *tlsFake) usage(from, ref time.Time) connUse {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := connUse{ops: map[string]int{}}
	var first *connRecord
	for _, c := range f.conns {
		if c.accepted.Before(from) {
			for _, r := range c.reqs {
				if !r.at.Before(from) {
					u.requests++
					u.ops[r.op]++
				}
			}
			continue
		}
		u.conns++
		if first == nil {
			first = c
			u.openedAt = c.accepted.Sub(ref)
		}
		for _, r := range c.reqs {
			u.requests++
			u.ops[r.op]++
			if c == first {
				u.onFirst++
			}
		}
	}
	return u
}

// opsString is "UpdateItem 3, PutItem 1".
func opsString(ops map[string]int) string {
	if len(ops) == 0 {
		return "none"
	}
	names := make([]string, 0, len(ops))
	for k := range ops {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		if ops[names[i]] != ops[names[j]] {
			return ops[names[i]] > ops[names[j]]
		}
		return names[i] < names[j]
	})
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %d", n, ops[n]))
	}
	return strings.Join(parts, ", ")
}

// writesReads classifies DynamoDB calls.
func writesReads(ops map[string]int) (writes, reads int) {
	for op, n := range ops {
		switch op {
		case "PutItem", "UpdateItem", "DeleteItem":
			writes += n
		case "GetItem":
			reads += n
		}
	}
	return writes, reads
}

// deployedFakes are the services the functions as deployed use beyond
// Secrets Manager and ComplyCube.
type deployedFakes struct {
	tb          *benchTB
	dynalite    *dynalite.Server
	db, ts, sns *tlsFake
	turnstile   *faketurnstile.Server
	statusToken string // a token the table knows, for the status function
}

func startDeployedFakes(rtt rtts) (*deployedFakes, error) {
	d := &deployedFakes{tb: newBenchTB(progress)}
	ok := false
	defer func() {
		if !ok {
			d.close()
		}
	}()
	// dynalite: DynamoDB's API on Node.js, over plain http; the table the
	// template makes (pk, a string; on demand); a status token and its
	// client's status, for the status function to read.
	err := d.tb.do(func() {
		d.dynalite = dynalite.Start(d.tb)
		d.dynalite.CreateTable(d.tb, stateTable)
		tok, err := state.NewStatusToken()
		if err != nil {
			d.tb.Fatal(err)
		}
		d.statusToken = tok
		table := dynamostate.New(d.dynalite.Client(d.tb), stateTable)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		exp := time.Now().Add(24 * time.Hour)
		if err := table.Put(ctx, state.StatusTokenKey(tok), state.StatusTokenRecord{ClientID: statusClient, IssuedAt: time.Now()}.Encode(), exp); err != nil {
			d.tb.Fatal(err)
		}
		st := state.ClientStatus{Status: state.StatusCompleted, Outcome: "clear", UpdatedAt: time.Now().UTC().Truncate(time.Second)}
		if err := table.Put(ctx, state.ClientStatusKey(statusClient), st.Encode(), exp); err != nil {
			d.tb.Fatal(err)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("dynalite, the DynamoDB API the functions' table runs on: %w", err)
	}
	// DynamoDB is https: a TLS reverse proxy (HTTP/1.1, as DynamoDB's
	// endpoint speaks) in front of dynalite, so that the functions' cold
	// path has its TLS handshake.
	target, err := url.Parse(d.dynalite.URL())
	if err != nil {
		return nil, err
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
		},
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second},
	}
	if d.db, err = startTLSFake(rp, false, rtt.db, func(r *http.Request) string {
		t := r.Header.Get("X-Amz-Target")
		if _, op, ok := strings.Cut(t, "."); ok {
			return op
		}
		return "?" + t
	}); err != nil {
		return nil, err
	}
	// Turnstile's siteverify (offering HTTP/2, as Cloudflare's; the
	// function speaks HTTP/1.1): the fake's handler
	// served over TLS by the bench with its certificate (the fake's own
	// plain listener is not used).
	d.turnstile = faketurnstile.Start()
	if d.ts, err = startTLSFake(d.turnstile, true, rtt.ts, func(*http.Request) string { return "siteverify" }); err != nil {
		return nil, err
	}
	// SNS's Publish (HTTP/1.1) over TLS.
	if d.sns, err = startTLSFake(&fakesns.Server{}, false, rtt.sns, func(*http.Request) string { return "Publish" }); err != nil {
		return nil, err
	}
	ok = true
	return d, nil
}

func (d *deployedFakes) close() {
	for _, f := range []*tlsFake{d.db, d.ts, d.sns} {
		if f != nil {
			f.close()
		}
	}
	if d.turnstile != nil {
		d.turnstile.Close()
	}
	d.tb.cleanup() // ends dynalite
}

// env points the functions at these fakes and names the table.
func (d *deployedFakes) env(withRTT bool) []string {
	return []string{
		"STATE_TABLE=" + stateTable,
		"AWS_ENDPOINT_URL_DYNAMODB=https://" + d.db.addr(withRTT),
		"TURNSTILE_VERIFY_URL=https://" + d.ts.addr(withRTT) + turnstilestandin.SiteverifyPath,
		"AWS_ENDPOINT_URL_SNS=https://" + d.sns.addr(withRTT),
		"ALERT_TOPIC_ARN=" + topicARN,
	}
}

// secretJSON is the secret the template's functions read: every key.
func (d *deployedFakes) secretJSON() string {
	b, _ := json.Marshal(map[string]string{
		"apiKey": apiKey, "webhookSecret": webhookSecret, "invitationKey": invitationKey,
		"turnstileSecretKey": d.turnstile.Secret(),
	})
	return string(b)
}

// use is what one cold start did with each service; connections' times
// are from the process's start (fromExec) or from the invoke.
type use struct {
	db, ts, sns connUse
	fromExec    bool
}

func (d *deployedFakes) usage(from, ref time.Time) use {
	return use{db: d.db.usage(from, ref), ts: d.ts.usage(from, ref), sns: d.sns.usage(from, ref)}
}

// The events. Each call makes a new one where the function remembers what
// it was sent: a fresh Turnstile token, e-mail and source address for a
// sign-up (a token works once; the limits count by address), a fresh
// invitation (each may start INVITATION_MAX_SESSIONS sessions), a fresh
// event and client ID for the webhook (an event is told once).

var eventSeq atomic.Int64

func apiEvent(path, body, sourceIP string, headers map[string]string) []byte {
	ev := map[string]any{
		"version": "2.0", "routeKey": "POST " + path, "rawPath": path, "body": body, "isBase64Encoded": false,
		"headers":        headers,
		"requestContext": map[string]any{"http": map[string]string{"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": sourceIP}, "requestId": "bench"},
	}
	b, _ := json.Marshal(ev)
	return b
}

func browserHeaders() map[string]string {
	return map[string]string{"origin": origin, "content-type": "application/json", "host": "abc123.execute-api.eu-west-1.amazonaws.com", "user-agent": "Mozilla/5.0"}
}

func (d *deployedFakes) signupEvent() []byte {
	n := eventSeq.Add(1)
	body, _ := json.Marshal(map[string]any{
		"client":             map[string]any{"type": "person", "email": fmt.Sprintf("ada.%d@example.org", n), "personDetails": map[string]string{"firstName": "Ada", "lastName": "Lovelace"}},
		"workflowTemplateId": "wt_bench", "successUrl": origin + "/ok", "cancelUrl": origin + "/no",
		"turnstileToken": d.turnstile.Issue(originHost),
	})
	return apiEvent("/sessions", string(body), fmt.Sprintf("198.51.%d.%d", (n/250)%256, n%250+1), browserHeaders())
}

func invitationEvent() []byte {
	now := time.Now()
	tok, err := invitation.Mint([]byte(invitationKey), invitation.Claims{ClientID: invitedClient, WorkflowTemplateID: "wt_bench", ExpiresAt: now.Add(time.Hour)}, now)
	if err != nil {
		panic(err) // a constant key and claims: cannot fail
	}
	body, _ := json.Marshal(map[string]any{"invitation": tok, "successUrl": origin + "/ok", "cancelUrl": origin + "/no"})
	return apiEvent("/sessions", string(body), "203.0.113.7", browserHeaders())
}

func (d *deployedFakes) statusEvent() []byte {
	return apiEvent("/sessions/status", `{"statusToken":"`+d.statusToken+`"}`, "203.0.113.7", browserHeaders())
}

func webhookEvent() []byte {
	n := eventSeq.Add(1)
	body := fmt.Sprintf(`{"id":"evt_bench_%d","type":"workflow.session.completed","resourceType":"workflowSession","createdAt":"2026-12-01T10:00:00Z",`+
		`"payload":{"id":"wfs_bench_%d","clientId":"bench_client_%d","status":"completed","outcome":"clear"}}`, n, n, n)
	headers := map[string]string{"content-type": "application/json", "complycube-signature": webhook.Sign(webhookSecret, []byte(body)), "user-agent": "ComplyCube"}
	return apiEvent("/webhooks", body, "34.255.1.1", headers)
}

// rtts are the simulated round trips to each service.
type rtts struct{ cc, sm, db, ts, sns time.Duration }

// floorRTT is what a variant's first answer after a cold start must add to
// hello-world's, in round trips that no code can overlap, and how that is
// counted; ok is false for the variants that have no floor of their own.
// Init waits for the Secrets Manager read (TCP, TLS, request); the
// connections made in advance (ComplyCube, DynamoDB, Turnstile) overlap
// it. A call on a connection already open is one round trip.
func (r rtts) floorRTT(name string) (d time.Duration, how string, ok bool) {
	init := max(3*r.sm, 2*r.cc, 2*r.db)
	switch name {
	case "createsession":
		return init + max(r.cc, r.db), "Secrets Manager read 3 (ComplyCube's and DynamoDB's TCP+TLS overlap it), then the session call 1 (the status-token PutItem overlaps it): 4 RTT", true
	case "signup":
		init = max(init, 2*r.ts)
		return init + r.ts + 3*r.db + r.cc + max(r.cc, r.db), "Secrets Manager read 3 (ComplyCube's, DynamoDB's and Turnstile's TCP+TLS overlap it), siteverify 1, the three sign-up counts 3 (UpdateItem, one after another), client creation 1, session 1 (the PutItem overlaps it): 9 RTT", true
	case "invitation":
		return init + r.db + max(r.cc, r.db), "Secrets Manager read 3 (handshakes overlap it), the invitation's count 1 (UpdateItem), session 1 (the PutItem overlaps it): 5 RTT", true
	case "status":
		return 2*r.db + 2*r.db, "DynamoDB's TCP+TLS 2 (begun in init, which has nothing to wait for), the token's GetItem 1, then the client's GetItem 1: 4 RTT", true
	case "webhook":
		return max(3*r.sm, 2*r.db, 2*r.sns) + 2*r.db + r.sns, "Secrets Manager read 3 (DynamoDB's TCP+TLS overlap it, and SNS's could), the event's claim 1 (PutItem), the client's status 1 (PutItem), the publish 1 (SNS's client is built and connected during init): 6 RTT", true
	}
	return 0, "", false
}

// connVerdict says, for a service made ready in advance, in how many of
// the cold starts one connection carried every call of the first request
// (none was opened by the request itself), and when it was opened: after
// the process started (the invoke, without a wrapper), against init's
// duration, which counts from the same moment.
func connVerdict(runs []coldRun, pick func(use) connUse) string {
	if len(runs) == 0 {
		return ""
	}
	one, inInit, used := 0, 0, 0
	var opened, inits []time.Duration
	counts := map[string]int{}
	ref := "process start"
	for _, r := range runs {
		u := pick(r.use)
		if !r.use.fromExec {
			ref = "invoke"
		}
		if u.requests == 0 && u.conns == 0 {
			continue
		}
		used++
		counts[opsString(u.ops)]++
		opened = append(opened, u.openedAt)
		inits = append(inits, r.init)
		if u.conns == 1 && u.onFirst == u.requests && u.requests > 0 {
			one++
		}
		if u.conns > 0 && u.openedAt < r.init {
			inInit++
		}
	}
	if used == 0 {
		return "not used"
	}
	var kinds []string
	for k := range counts {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	calls := strings.Join(kinds, " | ")
	if len(kinds) > 1 {
		calls = "varied: " + calls
	}
	return fmt.Sprintf("one connection carried all the first request's calls (%s) in %d/%d cold starts; opened a median %s after the %s (init %s), within init's duration in %d/%d",
		calls, one, len(runs), ms(median(opened)), ref, ms(median(inits)), inInit, len(runs))
}

// lateConn describes when a service's connection opened (SNS, whose
// calls the fake does not count): within init, or only by the first
// request.
func lateConn(runs []coldRun, pick func(use) connUse) string {
	var opened []time.Duration
	within := 0
	ref := "process start"
	for _, r := range runs {
		u := pick(r.use)
		if !r.use.fromExec {
			ref = "invoke"
		}
		if u.conns == 0 {
			continue
		}
		opened = append(opened, u.openedAt)
		if u.openedAt < r.init {
			within++
		}
	}
	if len(opened) == 0 {
		return "not used"
	}
	return fmt.Sprintf("opened a median %s after the %s, within init's duration in %d/%d cold starts (else by the first request)", ms(median(opened)), ref, within, len(runs))
}

// dynamoCost is what a request's DynamoDB calls cost per 1,000 requests.
func dynamoCost(ops map[string]int) (writes, reads int, per1000 float64) {
	writes, reads = writesReads(ops)
	return writes, reads, 1000 * (float64(writes)*pricePerWrite + float64(reads)*pricePerRead)
}

// typicalOps is the most frequent set of DynamoDB calls of the runs'
// first requests.
func typicalOps(runs []coldRun) map[string]int {
	best, bestN := map[string]int{}, 0
	seen := map[string]int{}
	for _, r := range runs {
		k := opsString(r.use.db.ops)
		seen[k]++
		if seen[k] > bestN {
			best, bestN = r.use.db.ops, seen[k]
		}
	}
	return best
}
