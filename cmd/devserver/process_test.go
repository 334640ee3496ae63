package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var urlPattern = regexp.MustCompile(`http://127\.0\.0\.1:\d+`)

// requestLine is the dev server's terminal line for a sign-up.
var requestLine = regexp.MustCompile(`^\d\d:\d\d:\d\d POST /sessions 200 [0-9.]+ms createdClientId=[0-9a-f]{24}$`)

// TestProcess builds the dev server, starts it as a process, waits for its
// first line, drives it with plain HTTP, and stops it with SIGINT while a
// request is in flight: that request still gets its answer.
func TestProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the dev server; -short skips it")
	}
	bin := filepath.Join(t.TempDir(), "devserver")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-site-addr", "127.0.0.1:0", "-simulator-addr", "127.0.0.1:0", "-site-dir", "../../examples/static-site")
	cmd.Env = cleanEnv()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stdout)
	first := make(chan string, 1)
	rest := make(chan string, 100)
	go func() {
		lines.Scan()
		first <- lines.Text()
		for lines.Scan() {
			rest <- lines.Text()
		}
		close(rest)
	}()
	var line string
	select {
	case line = <-first:
	case <-time.After(30 * time.Second):
		t.Fatal("no first line within 30s")
	}
	if !strings.Contains(line, "simulator") {
		t.Fatalf("first line does not mention the simulator: %q", line)
	}
	urls := urlPattern.FindAllString(line, -1)
	if len(urls) != 3 {
		t.Fatalf("first line should give the simulator, site and API URLs: %q", line)
	}
	simURL, siteURL, apiURL := urls[0], urls[1], urls[2]

	// The site is served, with its ENDPOINT pointed at this API.
	res, err := http.Get(siteURL + "/app.js")
	if err != nil {
		t.Fatal(err)
	}
	js, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.HasPrefix(string(js), `const ENDPOINT = "`+apiURL+`/sessions";`) {
		t.Errorf("app.js starts %q", string(js[:min(80, len(js))]))
	}

	// A sign-up from the site's origin (CLIENT_SOURCE defaults to signup).
	body := `{"client":{"type":"person","email":"ada@example.com","personDetails":{"firstName":"Ada","lastName":"Lovelace"}},"workflowTemplateId":"wt_example","successUrl":"` + siteURL + `/success.html","cancelUrl":"` + siteURL + `/cancel.html"}`
	req, _ := http.NewRequest("POST", apiURL+"/sessions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", siteURL)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var ok struct{ RedirectURL string }
	json.NewDecoder(res.Body).Decode(&ok)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != siteURL || !strings.HasPrefix(ok.RedirectURL, simURL+"/session/") {
		t.Fatalf("create: %d %v %q", res.StatusCode, res.Header, ok.RedirectURL)
	}
	page, err := http.Get(ok.RedirectURL)
	if err != nil || page.StatusCode != 200 {
		t.Fatalf("hosted page: %v %v", err, page)
	}
	page.Body.Close()

	// The second line names the client source; then one short line per
	// request, for a person at a terminal (-log json gives Lambda's lines).
	if l := <-rest; l != "devserver: CLIENT_SOURCE=signup" {
		t.Errorf("second line %q", l)
	}
	// Start-up warnings (slog's text lines) may come first: BOT_CHECK is
	// off in signup mode, and it says so.
	warnings := 0
	for done := false; !done; {
		select {
		case l := <-rest:
			if strings.HasPrefix(l, "level=WARN ") {
				warnings++
				continue
			}
			if !requestLine.MatchString(l) {
				t.Errorf("log line %q, want one like %q", l, "14:03:07 POST /sessions 200 11ms createdClientId=…")
			}
			done = true
		case <-time.After(5 * time.Second):
			t.Error("no log line for the request")
			done = true
		}
	}
	if warnings == 0 {
		t.Error("no warning that BOT_CHECK is off in signup mode")
	}

	// A request in flight when SIGINT arrives still gets its answer.
	conn, err := net.Dial("tcp", strings.TrimPrefix(apiURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := "POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	conn.Write([]byte(head + body[:20]))
	time.Sleep(100 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(300 * time.Millisecond)
	conn.Write([]byte(body[20:]))
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request lost at shutdown: %v", err)
	}
	if resp.StatusCode != 200 {
		t.Errorf("in-flight request: %d", resp.StatusCode)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGINT: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("still running 15s after SIGINT")
	}
	// New connections are refused once it has stopped.
	if _, err := http.Get(siteURL); err == nil {
		t.Error("site still served after shutdown")
	}
}

// cleanEnv is the environment without any ComplyCube or AWS settings, so
// that the simulator starts.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "COMPLYCUBE_") || strings.HasPrefix(kv, "ALLOWED_") || strings.HasPrefix(kv, "WORKFLOW_") || strings.HasPrefix(kv, "UPSTREAM_") || strings.HasPrefix(kv, "CLIENT_SOURCE=") || strings.HasPrefix(kv, "INVITATION_KEY=") || strings.HasPrefix(kv, "WEBHOOK_SECRET=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}
