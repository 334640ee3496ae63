package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/complycube-session/createsession/internal/local/simulator"
	"github.com/complycube-session/createsession/internal/testonly/syncbuf"
)

// devServer is the dev server run in-process by run(), on free ports.
type devServer struct {
	site, api, sim string
	out            *syncbuf.Buffer
	stop           func()
	simulator      *simulator.Simulator
}

func startDevServer(t *testing.T, env map[string]string) *devServer {
	t.Helper()
	return startDevServerArgs(t, env)
}

// startDevServerArgs starts the dev server with extra flags.
func startDevServerArgs(t *testing.T, env map[string]string, extra ...string) *devServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &devServer{out: &syncbuf.Buffer{}}
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

// TestBrowserFlow clicks through the example site in headless Chromium
// with the dev server's default CLIENT_SOURCE=signup: sign up, the
// simulator's page for the client just created, Complete to the success
// page, which shows what the status route reads of the webhook's record;
// again as a company, dark theme, Cancel to the cancel page; a success page
// reached before the webhook, which says so and then updates itself; the
// success page in a browser that started nothing, or with an unknown
// token; a field error shown beside its field; the CORS preflights the
// browser really sent; and a screenshot.
func TestBrowserFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("real-browser test; -short skips it")
	}
	d := startDevServerArgs(t, nil, "-simulator-rate", "50")
	ctx := browser(t)

	do(t, ctx, "open the site", chromedp.Navigate(d.site+"/"), chromedp.WaitVisible(chromedp.ID("email")))
	do(t, ctx, "fill in the sign-up form",
		chromedp.SendKeys(chromedp.ID("email"), "ada@example.com"),
		chromedp.SendKeys(chromedp.ID("first-name"), "Ada"),
		chromedp.SendKeys(chromedp.ID("last-name"), "Lovelace"),
	)
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
	clientID := text(t, ctx, "client-id")
	if c, ok := d.simulator.Client(clientID); !ok || c.Email != "ada@example.com" || c.PersonDetails["lastName"] != "Lovelace" {
		t.Errorf("the session is for %q, not the client the sign-up created (%+v)", clientID, c)
	}
	if got := text(t, ctx, "theme"); got != "light" {
		t.Errorf("theme %q", got)
	}
	// Complete and Cancel are POST forms: a GET of their address, as a
	// link prefetcher or a crawler sends, is refused and tells no one.
	for _, id := range []string{"complete", "cancel"} {
		form, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(f => [f.method, f.action])(document.getElementById("`+id+`").form)`))
		if err != nil || len(form) != 2 || form[0] != "post" || form[1] != strings.TrimSuffix(location(t, ctx), "?theme=light")+"/"+id {
			t.Fatalf("#%s is not a button of a POST form to the session's /%s: %v %v", id, id, form, err)
		}
		res, err := noRedirects.Get(form[1])
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "POST" {
			t.Errorf("GET %s: %d, Allow %q", form[1], res.StatusCode, res.Header.Get("Allow"))
		}
	}
	if sent, _ := d.simulator.Webhooks(); sent != 0 {
		t.Errorf("GETs of Complete and Cancel sent %d webhooks", sent)
	}
	personPause()
	do(t, ctx, "Complete", chromedp.Click(chromedp.ID("complete")), chromedp.WaitVisible(chromedp.ID("result")))
	// The success page's address says nothing of the outcome: what it shows
	// comes from POST /sessions/status, which reads what the webhook that
	// Complete sent recorded (workflow.session.completed, outcome clear).
	if loc := location(t, ctx); loc != d.site+"/success.html" {
		t.Errorf("after Complete: %s", loc)
	}
	// The site kept the status token for this tab before it left.
	if token, err := chromedp.Run(ctx, chromedp.Evaluate[string](`sessionStorage.getItem(`+statusTokenKey+`) || ""`)); err != nil || len(token) < 22 {
		t.Errorf("no status token in the site's sessionStorage: %q %v", token, err)
	}
	waitStatus(t, ctx, "You are verified.", 15*time.Second)
	statusRegion(t, ctx)
	// It promises nothing the site does not do.
	if page := text(t, ctx, "result") + " " + text(t, ctx, "status") + " " + text(t, ctx, "next"); strings.Contains(page, "e-mail") || strings.Contains(page, "email") {
		t.Errorf("the success page promises an e-mail: %q", page)
	}
	if hidden, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("check-again").hidden`)); !hidden {
		t.Error(`"Check again" is offered with a final outcome`)
	}
	// Complete sent ComplyCube's webhook to the dev server's /webhooks,
	// whose receiver (the webhook function's code) logged what it would
	// publish to the alert topic.
	if !waitFor(d.out, `would publish to the alert topic`, `workflow.session.completed`, clientID) {
		t.Errorf("no webhook logged by the dev server after Complete:\n%s", d.out.String())
	}
	if sent, failed := d.simulator.Webhooks(); sent != 1 || failed != 0 {
		t.Errorf("simulator webhooks: %d sent, %d failed", sent, failed)
	}
	if n := countRequests(d.out.String(), "POST", "/sessions/status", 200); n == 0 {
		t.Errorf("the success page did not ask POST /sessions/status:\n%s", d.out.String())
	}

	// Again, as a company, dark theme, and Cancel.
	do(t, ctx, "to the simulator's page as a company, dark",
		chromedp.Navigate(d.site+"/"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.Click(chromedp.CSS(`input[value="company"]`)),
		chromedp.WaitVisible(chromedp.ID("company-name")),
		chromedp.SendKeys(chromedp.ID("email"), "ops@engines.example"),
		chromedp.SendKeys(chromedp.ID("company-name"), "Analytical Engines"),
		chromedp.Click(chromedp.CSS(`input[value="dark"]`)),
		chromedp.Click(chromedp.ID("verify")),
		chromedp.WaitVisible(chromedp.ID("cancel")),
	)
	if got := text(t, ctx, "theme"); got != "dark" {
		t.Errorf("theme %q", got)
	}
	if c, ok := d.simulator.Client(text(t, ctx, "client-id")); !ok || c.Type != "company" || c.CompanyDetails["name"] != "Analytical Engines" {
		t.Errorf("company client %+v", c)
	}
	personPause()
	do(t, ctx, "Cancel", chromedp.Click(chromedp.ID("cancel")), chromedp.WaitVisible(chromedp.ID("result")))
	if loc, res := location(t, ctx), text(t, ctx, "result"); loc != d.site+"/cancel.html" || !strings.Contains(res, "cancelled") {
		t.Errorf("after Cancel: %s %q", loc, res)
	}
	// The success page, opened by hand in this tab now, tells the truth
	// about this tab's latest verification: it was cancelled.
	do(t, ctx, "the success page after Cancel", chromedp.Navigate(d.site+"/success.html"), chromedp.WaitVisible(chromedp.ID("result")))
	waitStatus(t, ctx, "Your verification was cancelled", 15*time.Second)

	// The success page reached before the webhook: a new verification,
	// left on the simulator's page, and the success page opened by hand. It
	// says it has not heard back yet and keeps asking; when the person
	// completes (here the Complete button's POST, sent from elsewhere), the
	// page, still open, says so by itself.
	do(t, ctx, "to the simulator's page, left there",
		chromedp.Navigate(d.site+"/"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "grace@example.com"),
		chromedp.SendKeys(chromedp.ID("first-name"), "Grace"),
		chromedp.SendKeys(chromedp.ID("last-name"), "Hopper"),
		chromedp.Click(chromedp.ID("verify")),
		chromedp.WaitVisible(chromedp.ID("complete")),
	)
	completeURL, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("complete").form.action`))
	if err != nil {
		t.Fatal(err)
	}
	asked := countRequests(d.out.String(), "POST", "/sessions/status", 200)
	do(t, ctx, "the success page before the webhook", chromedp.Navigate(d.site+"/success.html"), chromedp.WaitVisible(chromedp.ID("result")))
	waitStatus(t, ctx, "We have not heard back about your verification yet.", 15*time.Second)
	// It asks again every few seconds.
	if !syncbuf.WaitForLine(func() string {
		if countRequests(d.out.String(), "POST", "/sessions/status", 200) >= asked+2 {
			return "asked again"
		}
		return ""
	}, 15*time.Second, "asked again") {
		t.Errorf("the success page did not ask again while pending:\n%s", d.out.String())
	}
	if got := text(t, ctx, "status"); !strings.Contains(got, "not heard back") {
		t.Errorf("still pending, the page says %q", got)
	}
	res, err := noRedirects.Post(completeURL, "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST %s: %d", completeURL, res.StatusCode)
	}
	waitStatus(t, ctx, "You are verified.", 15*time.Second)

	// The success page in a browser that started nothing here (another
	// browser context: no sessionStorage) says it cannot find one, and
	// asks nothing; with a token the API does not know (unknown, expired,
	// malformed: one answer, 404), it says the same.
	fresh, cancelFresh := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer cancelFresh()
	freshWarnings := watchConsole(fresh)
	do(t, fresh, "the success page opened by hand", chromedp.Navigate(d.site+"/success.html"), chromedp.WaitVisible(chromedp.ID("result")))
	waitStatus(t, fresh, "We cannot find a verification started in this browser.", 10*time.Second)
	if n, err := chromedp.Run(fresh, chromedp.Evaluate[int](`performance.getEntriesByType("resource").filter(e => e.name.endsWith("/sessions/status")).length`)); err != nil || n != 0 {
		t.Errorf("with no token the page asked the status route %d times (%v)", n, err)
	}
	do(t, fresh, "an unknown token",
		chromedp.Evaluate[chromedp.Void](`sessionStorage.setItem(`+statusTokenKey+`, "A".repeat(43))`),
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.ID("result")),
	)
	waitStatus(t, fresh, "We cannot find a verification started in this browser.", 10*time.Second)
	if !freshWarnings.waitFor(`404`, `status_not_found`) {
		t.Errorf("the status route's 404 is not in the console: %q", freshWarnings.all())
	}
	if got := text(t, fresh, "status"); strings.Contains(got, "status_not_found") || strings.Contains(got, "No verification is known") {
		t.Errorf("the API's own text is shown to the visitor: %q", got)
	}
	if countRequests(d.out.String(), "POST", "/sessions/status", 404) != 1 {
		t.Errorf("the unknown token was not answered 404 once:\n%s", d.out.String())
	}
	cancelFresh()

	// The function's field error, beside its field, in the visitor's
	// words; the function's own text goes to the console.
	warnings := watchConsole(ctx)
	do(t, ctx, "an invalid e-mail address",
		chromedp.Navigate(d.site+"/"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "not-an-address"),
		chromedp.SendKeys(chromedp.ID("first-name"), "Ada"),
		chromedp.SendKeys(chromedp.ID("last-name"), "Lovelace"),
		chromedp.Click(chromedp.ID("verify")),
		chromedp.WaitVisible(chromedp.ID("email-error")),
	)
	if got := text(t, ctx, "email-error"); got != "Please enter a valid e-mail address." {
		t.Errorf("error beside the e-mail field: %q", got)
	}
	if beside, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`(e => e.closest(".field").contains(document.getElementById("email-error")) && e.getAttribute("aria-describedby").split(" ").includes("email-error"))(document.getElementById("email"))`)); !beside {
		t.Error("the e-mail error is not beside its field, or the field is not described by it")
	}
	if !warnings.waitFor(`400`, `'client.email' must be one e-mail address of at most 254 characters`, `"param":"client.email"`) {
		t.Errorf("the function's own message is not in the console: %q", warnings.all())
	}
	if got := text(t, ctx, "status"); got != "" {
		t.Errorf("the field error also went to the status line: %q", got)
	}
	if inv, _ := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("email"), "aria-invalid")); inv.Value != "true" {
		t.Error("the e-mail field is not marked aria-invalid")
	}
	if disabled, _ := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("verify"), "disabled")); disabled.Exists {
		t.Error("the button stays disabled after an error")
	}

	// The browser sent real CORS preflights (the POST has Content-Type
	// application/json, so it is not a simple request).
	logs := d.out.String()
	if countRequests(logs, "OPTIONS", "/sessions", 204) == 0 {
		t.Errorf("no preflight in the dev server's log:\n%s", logs)
	}
	if countRequests(logs, "OPTIONS", "/sessions/status", 204) == 0 {
		t.Errorf("no preflight of the status route in the dev server's log:\n%s", logs)
	}
	posts, hooks, published := countRequests(logs, "POST", "/sessions", 0), countRequests(logs, "POST", "/webhooks", 200), strings.Count(logs, "would publish to the alert topic")
	if posts != 4 || hooks != 3 || published != 3 {
		t.Errorf("%d POSTs to /sessions, %d webhooks taken and %d published, want 4, 3 and 3 (Complete, Cancel, Complete):\n%s", posts, hooks, published, logs)
	}
	// Every status request was answered: none failed.
	if all, ok := countRequests(logs, "POST", "/sessions/status", 0), countRequests(logs, "POST", "/sessions/status", 200)+countRequests(logs, "POST", "/sessions/status", 404); all != ok {
		t.Errorf("%d status requests, %d answered 200 or 404:\n%s", all, ok, logs)
	}
	for _, pii := range []string{"ada@example.com", "Lovelace", "Analytical Engines", "grace@example.com", "Hopper"} {
		if strings.Contains(logs, pii) {
			t.Errorf("the dev server's log holds %q", pii)
		}
	}
}

// TestBrowserRequestMode: with CLIENT_SOURCE=request the site keeps its
// client-ID box; an ID ComplyCube refuses is said so beside that box, and
// ComplyCube's own message goes to the console.
func TestBrowserRequestMode(t *testing.T) {
	if testing.Short() {
		t.Skip("real-browser test; -short skips it")
	}
	d := startDevServerArgs(t, map[string]string{"CLIENT_SOURCE": "request"}, "-simulator-rate", "50")
	ctx := browser(t)
	do(t, ctx, "a valid client ID",
		chromedp.Navigate(d.site+"/"),
		chromedp.WaitVisible(chromedp.ID("client-id")),
		chromedp.Click(chromedp.ID("verify")),
		chromedp.WaitVisible(chromedp.ID("complete")),
	)
	if got := text(t, ctx, "client-id"); got != "5eb04fcd0f3e360008035eb1" {
		t.Errorf("client %q", got)
	}
	warnings := watchConsole(ctx)
	do(t, ctx, "an invalid client ID",
		chromedp.Navigate(d.site+"/"),
		chromedp.WaitVisible(chromedp.ID("client-id")),
		chromedp.SetValue(chromedp.ID("client-id"), "not-a-complycube-id"),
		chromedp.Click(chromedp.ID("verify")),
		chromedp.WaitVisible(chromedp.ID("client-id-error")),
	)
	if got := text(t, ctx, "client-id-error"); got != "Please enter a valid ComplyCube client ID." {
		t.Errorf("error shown: %q", got)
	}
	if !warnings.waitFor(`400`, `"message":"'clientId' is invalid"`) {
		t.Errorf("ComplyCube's own message is not in the console: %q", warnings.all())
	}
	if vis, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("signup-fields").offsetParent !== null`)); vis {
		t.Error("the sign-up form is shown in request mode")
	}
}

// TestBrowserInvitation: with CLIENT_SOURCE=invitation the dev server
// prints a ready link; opened, the site shows only "Continue to
// verification", which leads to the simulator's page for the invited
// client.
func TestBrowserInvitation(t *testing.T) {
	if testing.Short() {
		t.Skip("real-browser test; -short skips it")
	}
	d := startDevServerArgs(t, map[string]string{"CLIENT_SOURCE": "invitation"}, "-simulator-rate", "50")
	var link, invited string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && link == ""; time.Sleep(10 * time.Millisecond) {
		if m := invitationLine.FindStringSubmatch(d.out.String()); m != nil {
			invited, link = m[1], m[2]
		}
	}
	if link == "" || !strings.HasPrefix(link, d.site+"/?invitation=") {
		t.Fatalf("no invitation link in the dev server's first lines:\n%s", d.out.String())
	}
	ctx := browser(t)
	do(t, ctx, "open the invitation", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("verify")))
	if got := text(t, ctx, "verify"); got != "Continue to verification" {
		t.Errorf("button %q", got)
	}
	for _, id := range []string{"signup-fields", "request-fields", "theme-fields"} {
		if vis, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("`+id+`").offsetParent !== null`)); vis {
			t.Errorf("#%s is shown on an invitation", id)
		}
	}
	do(t, ctx, "Continue", chromedp.Click(chromedp.ID("verify")), chromedp.WaitVisible(chromedp.ID("complete")))
	if got := text(t, ctx, "client-id"); got != invited {
		t.Errorf("session for %q, want the invited client %q", got, invited)
	}
	if got := text(t, ctx, "workflow"); got != demoTemplate {
		t.Errorf("workflow %q", got)
	}
	// A tampered link is refused with the page's message.
	warnings := watchConsole(ctx)
	do(t, ctx, "a tampered invitation",
		chromedp.Navigate(link+"x"),
		chromedp.WaitVisible(chromedp.ID("verify")),
		chromedp.Click(chromedp.ID("verify")),
		chromedp.WaitVisible(chromedp.CSS("#status.error")),
	)
	if got := text(t, ctx, "status"); got != "This invitation link is not valid. Please open the link from your invitation again, or ask for a new one." {
		t.Errorf("status %q", got)
	}
	if !warnings.waitFor(`400`, `'invitation' is not a valid invitation`) {
		t.Errorf("the function's own message is not in the console: %q", warnings.all())
	}
}

// statusTokenKey is the sessionStorage key of the example site's status
// token (app.js and status.js), as a JavaScript string.
const statusTokenKey = `"complycube.statusToken"`

// personPause is the moment a person spends on the verification page
// before clicking: deliberate, the test's only fixed wait.
func personPause() { time.Sleep(1500 * time.Millisecond) }

// waitStatus waits up to timeout for the success page's status line to be
// shown holding want.
func waitStatus(t *testing.T, ctx context.Context, want string, timeout time.Duration) {
	t.Helper()
	js, _ := json.Marshal(want)
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](`(s => s !== null && !s.hidden && s.textContent.includes(`+string(js)+`))(document.getElementById("status"))`,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(s => s ? s.textContent : "(no #status)")(document.getElementById("status"))`))
		t.Fatalf("the status line did not say %q within %v; it says %q (%v)", want, timeout, got, err)
	}
}

// statusRegion checks that the success page's status line is a polite
// live region, so that a screen reader says each change.
func statusRegion(t *testing.T, ctx context.Context) {
	t.Helper()
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(s => s.getAttribute("role") === "status" && s.getAttribute("aria-live") === "polite")(document.getElementById("status"))`))
	if err != nil || !ok {
		t.Errorf("the success page's #status is not a polite live region (%v)", err)
	}
}

// noRedirects shows a redirect instead of following it.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// consoleWarnings keeps what the page passes to console.warn, where the
// example site puts the API's own answers for developers.
type consoleWarnings struct {
	mu   sync.Mutex
	list []string
}

// watchConsole starts keeping the console.warn messages of the tab of ctx,
// from now until ctx ends.
func watchConsole(ctx context.Context) *consoleWarnings {
	c := &consoleWarnings{}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleWarning {
				c.mu.Lock()
				c.list = append(c.list, m.Text)
				c.mu.Unlock()
			}
		}
	}()
	return c
}

func (c *consoleWarnings) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.list...)
}

// waitFor waits up to 5 s for a warning that holds every part.
func (c *consoleWarnings) waitFor(parts ...string) bool {
	return syncbuf.WaitForLine(func() string { return strings.Join(c.all(), "\n") }, 5*time.Second, parts...)
}

// waitFor waits up to 5 s for a line of out that holds every part.
func waitFor(out *syncbuf.Buffer, parts ...string) bool {
	return out.WaitForLine(5*time.Second, parts...)
}

// countRequests counts the request lines of the dev server's log with
// that method, path and status ("" and 0 match any), in either of its
// formats: the functions' JSON lines (-log json) or its short text lines
// ("14:03:07 POST /sessions 200 41ms").
func countRequests(logs, method, path string, status int) int {
	n := 0
	for _, l := range strings.Split(logs, "\n") {
		var m, p string
		var st int
		var line struct {
			Msg, Method, Path string
			Status            int
		}
		if json.Unmarshal([]byte(l), &line) == nil && (line.Msg == "request" || line.Msg == "webhook" || line.Msg == "status") {
			m, p, st = line.Method, line.Path, line.Status
		} else if f := textRequestLine.FindStringSubmatch(l); f != nil {
			m, p = f[1], f[2]
			st, _ = strconv.Atoi(f[3])
		} else {
			continue
		}
		if (method == "" || m == method) && (path == "" || p == path) && (status == 0 || st == status) {
			n++
		}
	}
	return n
}

var textRequestLine = regexp.MustCompile(`^\d\d:\d\d:\d\d (\S+) (\S+) (\d{3}) `)

var invitationLine = regexp.MustCompile(`devserver: invitation for client ([0-9a-f]{24}), valid [^:]+: (\S+)`)

// TestBrowserOriginNotAllowed: a site whose origin is not allowed cannot
// read the 403 (the browser withholds it): the visitor is told the service
// could not be reached, the developer console says why (CORS).
func TestBrowserOriginNotAllowed(t *testing.T) {
	if testing.Short() {
		t.Skip("real-browser test; -short skips it")
	}
	d := startDevServer(t, map[string]string{"ALLOWED_ORIGINS": "https://only.example.com"})
	ctx := browser(t)
	warnings := watchConsole(ctx)
	do(t, ctx, "verify from a refused origin",
		chromedp.Navigate(d.site+"/"),
		chromedp.WaitVisible(chromedp.ID("verify")),
		chromedp.Click(chromedp.ID("verify")),
		chromedp.WaitVisible(chromedp.CSS("#status.error")),
	)
	if got := text(t, ctx, "status"); got != "We could not reach the verification service. Please check your internet connection and try again." {
		t.Errorf("status %q", got)
	}
	if !warnings.waitFor("(CORS)", "ALLOWED_ORIGINS", d.site) {
		t.Errorf("no CORS hint in the console: %q", warnings.all())
	}
	if countRequests(d.out.String(), "", "/sessions", 403) == 0 {
		t.Errorf("the dev server did not refuse the origin:\n%s", d.out.String())
	}
}

// TestBrowserRateLimited: when ComplyCube answers 429 the visitor is asked
// to wait, in words, with the wait when the page can read Retry-After;
// the function's own answer goes to the console.
func TestBrowserRateLimited(t *testing.T) {
	if testing.Short() {
		t.Skip("real-browser test; -short skips it")
	}
	// At 0.01 a second the simulator's bucket holds less than one call:
	// the first is answered 429 with a Retry-After of 99 s.
	d := startDevServerArgs(t, nil, "-simulator-rate", "0.01")
	ctx := browser(t)
	warnings := watchConsole(ctx)
	do(t, ctx, "sign up while ComplyCube is rate-limited",
		chromedp.Navigate(d.site+"/"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "ada@example.com"),
		chromedp.SendKeys(chromedp.ID("first-name"), "Ada"),
		chromedp.SendKeys(chromedp.ID("last-name"), "Lovelace"),
		chromedp.Click(chromedp.ID("verify")),
		chromedp.WaitVisible(chromedp.CSS("#status.error")),
	)
	// "in 2 minutes" when the browser lets the page read Retry-After (the
	// answer must list it in Access-Control-Expose-Headers), else no figure.
	got := text(t, ctx, "status")
	if got != "Too many attempts. Please try again in 2 minutes." && got != "Too many attempts. Please wait a few minutes, then try again." {
		t.Errorf("status %q", got)
	}
	if !warnings.waitFor(`429`, `"type":"rate_limit_exceeded"`) {
		t.Errorf("the function's own answer is not in the console: %q", warnings.all())
	}
	if countRequests(d.out.String(), "POST", "/sessions", 429) == 0 {
		t.Errorf("the dev server did not answer 429:\n%s", d.out.String())
	}
	if disabled, _ := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("verify"), "disabled")); disabled.Exists {
		t.Error("the button stays disabled after a 429")
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
