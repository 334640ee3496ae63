package samtemplate

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/complycube-session/createsession/internal/local/simulator"
	"github.com/complycube-session/createsession/internal/testonly/fakesecretsmanager"
	"github.com/complycube-session/createsession/internal/testonly/lambdaemu"
)

// expected is what each sample event must produce, and the function of
// the template it is for. Every file in events/ (but env.json) must be
// listed here.
var expected = map[string]struct {
	function string // logical ID, as in env.json and the Makefile
	status   int
	format   string // "2.0" or "1.0"
	body     string // substring of the body
	allowed  bool   // Access-Control-Allow-Origin present
}{
	"create-session.json":          {FunctionID, 200, "2.0", `{"redirectUrl":"http://127.0.0.1:`, true},
	"preflight.json":               {FunctionID, 204, "2.0", "", true},
	"refused-origin.json":          {FunctionID, 403, "2.0", `"type":"origin_not_allowed"`, false},
	"invalid-body.json":            {FunctionID, 400, "2.0", `"param":"successUrl"`, true},
	"rest-api-create-session.json": {FunctionID, 200, "1.0", `{"redirectUrl":"http://127.0.0.1:`, true},
	// No table (env.json's STATE_TABLE is empty, as for sam local): the
	// token is known to no instance, the answer the same as for an
	// expired or malformed one.
	"status-unknown-token.json":  {StatusID, 404, "2.0", `"type":"status_not_found"`, true},
	"status-preflight.json":      {StatusID, 204, "2.0", "", true},
	"status-refused-origin.json": {StatusID, 403, "2.0", `"type":"origin_not_allowed"`, false},
}

// TestEventsUnderEmulator feeds every file in events/ to the real bootstrap
// of its function under the Lambda Runtime Interface Emulator, with
// events/env.json's variables for that function (ComplyCube pointed at the
// simulator, no table) as `sam local invoke` would set them.
func TestEventsUnderEmulator(t *testing.T) {
	rie := lambdaemu.RIEForTest(t)
	root := repo(t)
	var envFile map[string]map[string]string
	if err := json.Unmarshal(read(t, "events/env.json"), &envFile); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(root, "events", "*.json"))
	byFunction := map[string][]string{}
	for _, f := range files {
		name := filepath.Base(f)
		if name == "env.json" {
			continue
		}
		want, ok := expected[name]
		if !ok {
			t.Errorf("events/%s has no expected answer in this test", name)
			continue
		}
		byFunction[want.function] = append(byFunction[want.function], f)
	}
	seen := 0
	for _, id := range mapKeys(byFunction) {
		t.Run(id, func(t *testing.T) {
			seen += len(byFunction[id])
			feedEvents(t, rie, id, envFile[id], byFunction[id])
		})
	}
	if seen != len(expected) {
		t.Errorf("%d events fed, %d expected: a listed event file is missing", seen, len(expected))
	}
}

// feedEvents runs function id's bootstrap under the emulator with vars and
// checks each event file's answer.
func feedEvents(t *testing.T, rie, id string, vars map[string]string, files []string) {
	bootstrap, err := lambdaemu.BuildFunction(id, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sim := simulator.New("", vars["COMPLYCUBE_API_KEY"])
	simSrv := httptest.NewServer(sim)
	defer simSrv.Close()
	sim.SetPublicURL(simSrv.URL)
	sm := fakesecretsmanager.Start() // present so no call can reach AWS
	defer sm.Close()

	env := lambdaemu.AWSEnv(sm.URL())
	for k, v := range vars {
		if k == "COMPLYCUBE_BASE_URL" {
			v = simSrv.URL // in place of host.docker.internal
		}
		env = append(env, k+"="+v)
	}
	emu, err := lambdaemu.Start(rie, bootstrap, env)
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Stop()

	var creates int64
	for _, f := range files {
		name := filepath.Base(f)
		want := expected[name]
		if want.status == 200 && id == FunctionID {
			creates++
		}
		payload, _ := os.ReadFile(f)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := emu.Invoke(ctx, payload)
		cancel()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var status int
		var headers map[string]string
		var body string
		var shape map[string]json.RawMessage
		json.Unmarshal(out, &shape)
		if want.format == "1.0" {
			var r events.APIGatewayProxyResponse
			json.Unmarshal(out, &r)
			status, headers, body = r.StatusCode, r.Headers, r.Body
			if _, ok := shape["cookies"]; ok {
				t.Errorf("%s: a 1.0 event got a 2.0 response", name)
			}
		} else {
			var r events.APIGatewayV2HTTPResponse
			json.Unmarshal(out, &r)
			status, headers, body = r.StatusCode, r.Headers, r.Body
		}
		if status != want.status || !strings.Contains(body, want.body) {
			t.Errorf("%s: got %d %s, want %d containing %s", name, status, body, want.status, want.body)
		}
		if got := headers["Access-Control-Allow-Origin"] != ""; got != want.allowed {
			t.Errorf("%s: Access-Control-Allow-Origin %q", name, headers["Access-Control-Allow-Origin"])
		}
	}
	// The create-session events call ComplyCube once per create; the
	// status function never does.
	if sim.Requests() != creates {
		t.Errorf("the simulator saw %d calls, want %d (the creates)", sim.Requests(), creates)
	}
	if len(sm.Requests()) != 0 {
		t.Error("Secrets Manager was called although env.json sets no secret")
	}
	if t.Failed() {
		t.Logf("emulator output:\n%s", emu.Output())
	}
}
