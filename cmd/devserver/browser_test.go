package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/complycube-session/createsession/internal/local/simulator"
)

// devServer is the dev server run in-process by run(), on free ports.
type devServer struct {
	site, api, sim string
	out            *syncBuffer
	stop           func()
	simulator      *simulator.Simulator
}

type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	discard bool
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.discard {
		return len(p), nil
	}
	return s.b.Write(p)
}

// stopKeeping drops all further output: load tests would otherwise measure
// their own log buffer as the server's memory.
func (s *syncBuffer) stopKeeping() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.discard = true
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startDevServer(t *testing.T, env map[string]string) *devServer {
	t.Helper()
	return startDevServerArgs(t, env)
}

// startDevServerArgs starts the dev server with extra flags.
func startDevServerArgs(t *testing.T, env map[string]string, extra ...string) *devServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &devServer{out: &syncBuffer{}}
	done := make(chan error, 1)
	go func() {
		args := append([]string{"-addr", "127.0.0.1:0", "-site-addr", "127.0.0.1:0", "-simulator-addr", "127.0.0.1:0", "-site-dir", "../../examples/static-site"}, extra...)
		done <- runWith(ctx, args, func(k string) string { return env[k] }, d.out, func(s *simulator.Simulator) { d.simulator = s })
	}()
	d.stop = func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("dev server: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("dev server did not stop")
		}
	}
	t.Cleanup(d.stop)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		first, _, found := strings.Cut(d.out.String(), "\n")
		if !found {
			continue
		}
		urls := urlPattern.FindAllString(first, -1)
		if len(urls) != 3 {
			t.Fatalf("first line: %q", first)
		}
		d.sim, d.site, d.api = urls[0], urls[1], urls[2]
		return d
	}
	t.Fatalf("no first line: %q", d.out.String())
	return nil
}

// chromium finds Debian's chromium. CI installs it; elsewhere the browser
// test is skipped with a message when it is missing.
func chromium(t *testing.T) string {
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed (.ci/run installs it with apt-get)")
	}
	t.Skip("chromium is not installed: apt-get install chromium")
	return ""
}

func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1000, 820),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// text and location read one value from the page.
func text(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		t.Fatalf("text of #%s: %v", id, err)
	}
	return strings.TrimSpace(v)
}

func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestBrowserFlow clicks through the example site in headless Chromium:
// Verify identity, the simulator's page, Complete to the success page, then
// Cancel to the cancel page; the error message for an invalid client ID;
// the CORS preflight the browser really sent; and a screenshot.
func TestBrowserFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("real-browser test; -short skips it")
	}
	d := startDevServer(t, nil)
	ctx := browser(t)

	do(t, ctx, "open the site", chromedp.Navigate(d.site+"/"), chromedp.WaitVisible(chromedp.ID("verify")))
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(screenshotPath(t), png, 0o644); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "to the simulator's page", chromedp.Click(chromedp.ID("verify")), chromedp.WaitVisible(chromedp.ID("complete")))
	if loc := location(t, ctx); !strings.HasPrefix(loc, d.sim+"/session/test_") {
		t.Errorf("simulator page at %s", loc)
	}
	if got := text(t, ctx, "client-id"); got != "5eb04fcd0f3e360008035eb1" {
		t.Errorf("client %q", got)
	}
	if got := text(t, ctx, "theme"); got != "light" {
		t.Errorf("theme %q", got)
	}
	do(t, ctx, "Complete", chromedp.Click(chromedp.ID("complete")), chromedp.WaitVisible(chromedp.ID("result")))
	if loc, res := location(t, ctx), text(t, ctx, "result"); loc != d.site+"/success.html" || !strings.Contains(res, "complete") {
		t.Errorf("after Complete: %s %q", loc, res)
	}

	// Again, dark theme, and Cancel.
	do(t, ctx, "to the simulator's page, dark",
		chromedp.Navigate(d.site+"/"),
		chromedp.WaitVisible(chromedp.ID("verify")),
		chromedp.Click(chromedp.CSS(`input[value="dark"]`)),
		chromedp.Click(chromedp.ID("verify")),
		chromedp.WaitVisible(chromedp.ID("cancel")),
	)
	if got := text(t, ctx, "theme"); got != "dark" {
		t.Errorf("theme %q", got)
	}
	do(t, ctx, "Cancel", chromedp.Click(chromedp.ID("cancel")), chromedp.WaitVisible(chromedp.ID("result")))
	if loc, res := location(t, ctx), text(t, ctx, "result"); loc != d.site+"/cancel.html" || !strings.Contains(res, "cancelled") {
		t.Errorf("after Cancel: %s %q", loc, res)
	}

	// ComplyCube's own message for a client ID it refuses.
	do(t, ctx, "an invalid client ID",
		chromedp.Navigate(d.site+"/"),
		chromedp.WaitVisible(chromedp.ID("verify")),
		chromedp.SetValue(chromedp.ID("client-id"), "not-a-complycube-id"),
		chromedp.Click(chromedp.ID("verify")),
		chromedp.WaitVisible(chromedp.CSS("#status.error")),
	)
	if got := text(t, ctx, "status"); got != "'clientId' is invalid" {
		t.Errorf("error shown: %q", got)
	}
	if disabled, _ := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("verify"), "disabled")); disabled.Exists {
		t.Error("the button stays disabled after an error")
	}

	// The browser sent real CORS preflights (the POST has Content-Type
	// application/json, so it is not a simple request).
	logs := d.out.String()
	if !strings.Contains(logs, `"method":"OPTIONS"`) || !strings.Contains(logs, `"status":204`) {
		t.Errorf("no preflight in the dev server's log:\n%s", logs)
	}
	if n := strings.Count(logs, `"method":"POST"`); n != 3 {
		t.Errorf("%d POSTs logged, want 3", n)
	}
}

// TestBrowserOriginNotAllowed: a site whose origin is not allowed gets the
// page's CORS message, since the browser withholds the 403.
func TestBrowserOriginNotAllowed(t *testing.T) {
	if testing.Short() {
		t.Skip("real-browser test; -short skips it")
	}
	d := startDevServer(t, map[string]string{"ALLOWED_ORIGINS": "https://only.example.com"})
	ctx := browser(t)
	do(t, ctx, "verify from a refused origin",
		chromedp.Navigate(d.site+"/"),
		chromedp.WaitVisible(chromedp.ID("verify")),
		chromedp.Click(chromedp.ID("verify")),
		chromedp.WaitVisible(chromedp.CSS("#status.error")),
	)
	if got := text(t, ctx, "status"); !strings.Contains(got, "(CORS)") || !strings.Contains(got, d.site) {
		t.Errorf("status %q", got)
	}
	if !strings.Contains(d.out.String(), `"status":403`) {
		t.Errorf("the dev server did not refuse the origin:\n%s", d.out.String())
	}
}

// screenshotPath is docs/example-site.png when UPDATE_SCREENSHOT is set
// (to refresh the README's picture), else a temporary file.
func screenshotPath(t *testing.T) string {
	if os.Getenv("UPDATE_SCREENSHOT") != "" {
		return filepath.Join("..", "..", "docs", "example-site.png")
	}
	return filepath.Join(t.TempDir(), "example-site.png")
}
