package nodesdk

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/complycube-session/createsession/internal/lambda/memstate"
	"github.com/complycube-session/createsession/internal/lambda/sessionfn"
	"github.com/complycube-session/createsession/internal/local/simulator"
)

const apiKey = "test_bm9kZS1zZGstY2hlY2s"

// sdkResult is what check.js prints: what the SDK handed its caller.
type sdkResult struct {
	Client struct {
		ID, Type, Email string
	}
	Session struct {
		RedirectURL string
	}
	BadRequest, Unauthorized struct {
		StatusCode int
		Type       string
		Param      *string
		Message    string
		Unexpected string
	}
}

// installSDK installs the pinned SDK with npm ci into a temporary folder.
func installSDK(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed", tool)
			}
			t.Skipf("%s is not installed; this test runs ComplyCube's Node SDK", tool)
		}
	}
	dir := t.TempDir()
	for _, f := range []string{"package.json", "package-lock.json", "check.js"} {
		data, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("npm ci could not install @complycube/api (no registry?): %v\n%s", err, out)
		}
		t.Fatalf("npm ci: %v\n%s", err, out)
	}
	return dir
}

// call is one API request the simulator received, reduced to what the
// function and the SDK must agree on.
type call struct {
	Path          string   // without the SDK's trailing slash
	MediaType     string   // of Content-Type
	Authorization string   // as sent
	Fields        []string // the body's member names, nested ones as a.b
}

func reduce(t *testing.T, r simulator.Recorded) call {
	t.Helper()
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var body map[string]any
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("%s: body is not a JSON object: %s", r.Path, r.Body)
	}
	return call{Path: strings.TrimSuffix(r.Path, "/"), MediaType: mt, Authorization: r.Header.Get("Authorization"), Fields: fieldNames("", body)}
}

func fieldNames(prefix string, m map[string]any) []string {
	var out []string
	for k, v := range m {
		if inner, ok := v.(map[string]any); ok {
			out = append(out, fieldNames(prefix+k+".", inner)...)
			continue
		}
		out = append(out, prefix+k)
	}
	slices.Sort(out)
	return out
}

// TestOfficialNodeSDK: ComplyCube's own SDK creates a client and a flow
// session on the simulator, and gets ComplyCube's 400 and 401 as its
// typed errors; then the function, in signup mode, makes the same two calls,
// and they must match what the SDK sent: path, Content-Type, the raw key in
// Authorization, the body's fields.
func TestOfficialNodeSDK(t *testing.T) {
	if testing.Short() {
		t.Skip("installs ComplyCube's Node SDK from npm; -short skips it")
	}
	dir := installSDK(t)
	sim := simulator.New("", apiKey)
	srv := httptest.NewServer(sim)
	defer srv.Close()
	sim.SetPublicURL(srv.URL)

	cmd := exec.Command("node", "check.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SIM_URL="+srv.URL, "API_KEY="+apiKey)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("check.js: %v", err)
	}
	var got sdkResult
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("check.js printed %s", out)
	}
	if !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(got.Client.ID) || got.Client.Type != "person" || got.Client.Email != "sdk.check@example.com" {
		t.Errorf("the SDK's client: %+v", got.Client)
	}
	if !strings.HasPrefix(got.Session.RedirectURL, srv.URL+"/session/test_") || !strings.HasSuffix(got.Session.RedirectURL, "?theme=dark") {
		t.Errorf("the SDK's session: %+v", got.Session)
	}
	if b := got.BadRequest; b.StatusCode != 400 || b.Type != "invalid_request" || b.Param == nil || *b.Param != "clientId" || b.Message != "'clientId' is invalid (status code 400)" {
		t.Errorf("the SDK's 400: %+v", b)
	}
	if u := got.Unauthorized; u.StatusCode != 401 || u.Type != "unauthorized" || u.Param != nil || u.Message != "The 'Authorization' header is invalid (status code 401)" {
		t.Errorf("the SDK's 401: %+v", u)
	}

	sdkCalls := sim.Recorded()
	if len(sdkCalls) != 4 || sdkCalls[0].Path != "/v1/clients/" || sdkCalls[1].Path != "/v1/flow/sessions/" {
		t.Fatalf("the SDK's calls: %v", paths(sdkCalls))
	}
	if ua := sdkCalls[0].Header.Get("User-Agent"); !strings.HasPrefix(ua, "complycube-nodejs/") {
		t.Errorf("User-Agent %q: not the official SDK?", ua)
	}

	// The function's own calls, for the same person and session.
	fn, err := sessionfn.Build(context.Background(), mustConfig(t, srv.URL), memstate.New(), slog.New(slog.NewJSONHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"client":{"type":"person","email":"sdk.check@example.com","personDetails":{"firstName":"Sdk","lastName":"Check"}},"workflowTemplateId":"wt_sdk","successUrl":"https://www.example.com/done","cancelUrl":"https://www.example.com/cancel","theme":"dark"}`
	ev, _ := json.Marshal(events.APIGatewayV2HTTPRequest{Version: "2.0", Body: body, Headers: map[string]string{"content-type": "application/json"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	answer, err := fn.Invoke(ctx, ev)
	if err != nil || !strings.Contains(string(answer), `redirectUrl`) {
		t.Fatalf("the function: %v %s", err, answer)
	}
	fnCalls := sim.Recorded()[4:]
	if len(fnCalls) != 2 {
		t.Fatalf("the function's calls: %v", paths(fnCalls))
	}
	for i, what := range []string{"client creation", "flow session"} {
		want, have := reduce(t, sdkCalls[i]), reduce(t, fnCalls[i])
		if !slices.Equal(want.Fields, have.Fields) || want.Path != have.Path || want.MediaType != have.MediaType || want.Authorization != have.Authorization {
			t.Errorf("%s: the function sends\n  %+v\nComplyCube's Node SDK sends\n  %+v", what, have, want)
		}
		t.Logf("%s: both send %s %s, %s, fields %v", what, "POST", have.Path, have.MediaType, have.Fields)
		if have.Authorization != apiKey {
			t.Errorf("%s: Authorization %q, want the raw key (no scheme)", what, have.Authorization)
		}
	}
}

func mustConfig(t *testing.T, baseURL string) sessionfn.Config {
	t.Helper()
	cfg, err := sessionfn.LoadConfig(func(k string) string {
		return map[string]string{"COMPLYCUBE_API_KEY": apiKey, "COMPLYCUBE_BASE_URL": baseURL, "CLIENT_SOURCE": "signup"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func paths(rs []simulator.Recorded) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}
