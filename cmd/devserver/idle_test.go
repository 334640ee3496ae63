package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// simulatorIdleLimit is a little more than the simulator's
// ReadHeaderTimeout (newServer: 5 s), after which it drops a connection
// that has sent no request: the fate of the connection the function opens
// to ComplyCube during init when the first request comes later, as it may
// on Lambda.
const simulatorIdleLimit = 6 * time.Second

// TestIdleConnectionInAdvance: the first request after the simulator has
// dropped the connection made in advance still succeeds, for a sign-up
// (whose client creation is never retried once sent, so that it failed
// with 502 when the dropped connection was used) and for a plain session
// (which the session call's retry could also rescue; that it needs none,
// Attempts == 1, is pinned by internal/lambda/complycube's tests). The
// wait is only there to let the simulator close the connection; nothing
// is timed.
func TestIdleConnectionInAdvance(t *testing.T) {
	if testing.Short() {
		t.Skip("waits past the simulator's idle limit; -short skips it")
	}
	cases := []struct {
		name string
		env  map[string]string
		body func(site string) string
	}{
		{"signup", nil, func(site string) string {
			return `{"client":{"type":"person","email":"ada@example.com","personDetails":{"firstName":"Ada","lastName":"Lovelace"}},"workflowTemplateId":"wt_example","successUrl":"` + site + `/success.html","cancelUrl":"` + site + `/cancel.html"}`
		}},
		{"request", map[string]string{"CLIENT_SOURCE": "request"}, func(site string) string {
			return `{"clientId":"5eb04fcd0f3e360008035eb1","workflowTemplateId":"wt_example","successUrl":"` + site + `/success.html","cancelUrl":"` + site + `/cancel.html"}`
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // the two waits overlap
			d := startDevServer(t, tc.env)
			time.Sleep(simulatorIdleLimit)
			req, _ := http.NewRequest("POST", d.api+"/sessions", strings.NewReader(tc.body(d.site)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Origin", d.site)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(res.Body)
			res.Body.Close()
			var ok struct{ RedirectURL string }
			if res.StatusCode != 200 || json.Unmarshal(data, &ok) != nil || !strings.HasPrefix(ok.RedirectURL, d.sim+"/session/") {
				t.Fatalf("first request after the simulator dropped the idle connection: %d %s\n%s", res.StatusCode, data, d.out.String())
			}
		})
	}
}
