package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/complycube-session/createsession/internal/local/simulator"
	"github.com/complycube-session/createsession/internal/testonly/headless"
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

func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(headless.Options(t), chromedp.WindowSize(1000, 820))
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
	// "in about 2 minutes": the page reads Retry-After, which the browser
	// allows only because the answer lists it in
	// Access-Control-Expose-Headers.
	if got := text(t, ctx, "status"); got != "Too many attempts. Please try again in about 2 minutes." {
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

// TestBrowserBotCheck: with BOT_CHECK=turnstile the dev server stands in
// for Cloudflare Turnstile, and the sign-up form shows its widget above
// the button. The form cannot be sent until the person completes the
// check; then the sign-up goes through to the simulator's page. A token
// is good once: the page asks for a new check whenever it comes back or
// the function refused (a token replayed, a token taken and used first by
// someone else, a sign-up limit), and tells the visitor what happened.
func TestBrowserBotCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("real-browser test; -short skips it")
	}
	d := startDevServerArgs(t, map[string]string{"BOT_CHECK": "turnstile", "SIGNUPS_PER_EMAIL": "1", "SIGNUPS_PER_IP": "20"}, "-simulator-rate", "50")
	if !waitFor(d.out, "BOT_CHECK=turnstile", "stand-in") {
		t.Fatalf("the dev server does not say it stands in for Turnstile:\n%s", d.out.String())
	}
	ctx := browser(t)
	warnings := watchConsole(ctx)

	do(t, ctx, "open the site", chromedp.Navigate(d.site+"/"), chromedp.WaitVisible(chromedp.ID("email")))
	waitWidget(t, ctx)
	// The widget is in the sign-up form, above its button, and its token
	// field with it.
	if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		const form = document.getElementById("verify-form"), widget = document.querySelector(`+widgetBox+`), button = document.getElementById("verify");
		return form.contains(widget) && widget.offsetParent !== null &&
			!!(widget.compareDocumentPosition(button) & Node.DOCUMENT_POSITION_FOLLOWING) &&
			form.contains(document.querySelector('input[name="cf-turnstile-response"]'));
	})()`)); err != nil || !ok {
		t.Errorf("the check is not shown inside the sign-up form above its button (%v)", err)
	}
	wantBlocked(t, ctx, "before the check")
	typeIn(t, ctx, "email", "ada@example.com")
	typeIn(t, ctx, "first-name", "Ada")
	typeIn(t, ctx, "last-name", "Lovelace")
	// Neither the (disabled) button nor Enter in a field sends the form.
	clickAt(t, ctx, "#verify")
	do(t, ctx, "Enter in a field", chromedp.KeyEvent(kb.Enter), chromedp.Sleep(500*time.Millisecond))
	if n := countRequests(d.out.String(), "POST", "/sessions", 0); n != 0 {
		t.Fatalf("the form was sent %d times before the check:\n%s", n, d.out.String())
	}
	wantBlocked(t, ctx, "after trying to send without the check")

	first := completeCheck(t, ctx)
	clickAt(t, ctx, "#verify")
	waitSimulator(t, ctx, d)
	clientID := jsText(t, ctx, "client-id")
	if c, ok := d.simulator.Client(clientID); !ok || c.Email != "ada@example.com" {
		t.Errorf("the session is for %q, not the client the sign-up created (%+v)", clientID, c)
	}
	// The function asked siteverify (the stand-in, served by the dev
	// server's API) and created the client only after its yes. (The dev
	// server's text log has a line for /sessions, none for siteverify.)
	if !waitFor(d.out, "POST /sessions 200 ", "createdClientId="+clientID) {
		t.Errorf("no sign-up answered 200 in the dev server's log:\n%s", d.out.String())
	}

	// Back to the form with the back button (Chromium restores the page
	// from its back/forward cache, as it was left): the token it sent is
	// spent, so the check starts over and the form is blocked again.
	back(t, ctx, d.site+"/")
	waitWidget(t, ctx)
	logComeBack(t, ctx)
	wantBlocked(t, ctx, "back from the simulator's page")
	if got, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[document.querySelector('input[name="cf-turnstile-response"]').value, document.getElementById("status").textContent]`)); len(got) != 2 || got[0] != "" || got[1] != "" {
		t.Errorf("back from the simulator's page, the widget's token and the status line: %q; want both empty", got)
	}
	// The spent token, replayed (say by a script that read it), is refused:
	// siteverify tells the function it was checked before.
	if status, answer := signUp(t, d, "replay@example.com", first); status != http.StatusForbidden || answer["type"] != "bot_check_failed" {
		t.Errorf("a replayed token: %d %v, want 403 bot_check_failed", status, answer)
	}
	if !waitFor(d.out, "POST /sessions 403 ", "bot_check_failed", "timeout-or-duplicate", "refusedFor=bot") {
		t.Errorf("the replay's refusal is not in the dev server's log with siteverify's reason:\n%s", d.out.String())
	}

	// A token used by someone else before the person sends the form: the
	// function refuses the person's sign-up (403), the page says so in the
	// visitor's words and asks for the check again; with a new token the
	// sign-up goes through.
	typeIn(t, ctx, "email", "grace@example.com")
	typeIn(t, ctx, "first-name", "Grace")
	typeIn(t, ctx, "last-name", "Hopper")
	taken := completeCheck(t, ctx)
	if status, answer := signUp(t, d, "mallory@example.com", taken); status != http.StatusOK {
		t.Fatalf("the sign-up that takes the token first: %d %v", status, answer)
	}
	clickAt(t, ctx, "#verify")
	waitTrue(t, ctx, "an error is shown", `document.querySelector("#status.error") !== null`)
	if got := jsText(t, ctx, "status"); got != "We could not confirm you are a person. Please complete the check again." {
		t.Errorf("after a 403 bot_check_failed the page says %q", got)
	}
	if !warnings.waitFor(`403`, `"type":"bot_check_failed"`) {
		t.Errorf("the function's own answer is not in the console: %q", warnings.all())
	}
	wantBlocked(t, ctx, "after the 403")
	if again := completeCheck(t, ctx); again == taken {
		t.Error("the widget gave the refused token again")
	}
	clickAt(t, ctx, "#verify")
	waitSimulator(t, ctx, d)
	if c, ok := d.simulator.Client(jsText(t, ctx, "client-id")); !ok || c.Email != "grace@example.com" {
		t.Errorf("Grace's session is for %+v", c)
	}

	// A sign-up limit (SIGNUPS_PER_EMAIL=1, and Ada signed up): the page
	// names it, with the wait it reads from Retry-After, and the check
	// starts over.
	do(t, ctx, "Ada again", chromedp.Navigate(d.site+"/"), chromedp.WaitVisible(chromedp.ID("email")))
	waitWidget(t, ctx)
	typeIn(t, ctx, "email", "ada@example.com")
	typeIn(t, ctx, "first-name", "Ada")
	typeIn(t, ctx, "last-name", "Lovelace")
	completeCheck(t, ctx)
	clickAt(t, ctx, "#verify")
	waitTrue(t, ctx, "an error is shown", `document.querySelector("#status.error") !== null`)
	if got := jsText(t, ctx, "status"); !emailLimitText.MatchString(got) {
		t.Errorf("after the e-mail address's limit the page says %q", got)
	}
	wantBlocked(t, ctx, "after the 429")
	logs := d.out.String()
	if countRequests(logs, "POST", "/sessions", 429) != 1 || !strings.Contains(logs, "refusedFor=email") {
		t.Errorf("the dev server did not refuse the e-mail address once:\n%s", logs)
	}
	// Every sign-up carried its token: none was refused for want of one.
	if strings.Contains(logs, "turnstileToken") {
		t.Errorf("a sign-up went without its token:\n%s", logs)
	}
	if posts, ok := countRequests(logs, "POST", "/sessions", 0), countRequests(logs, "POST", "/sessions", 200); posts != 6 || ok != 3 {
		t.Errorf("%d sign-ups, %d answered 200; want 6 and 3 (Ada, Mallory, Grace):\n%s", posts, ok, logs)
	}
}

var emailLimitText = regexp.MustCompile(`^This e-mail address has been used for too many sign-ups today\. Please try again in about \d+ (hours|minutes?)\.$`)

// widgetBox selects the stand-in's widget (the button it renders with the
// role of a checkbox) in the example site's form, as a JavaScript string.
const widgetBox = `"#bot-check #turnstile-widget [role=checkbox]"`

// waitWidget waits for the bot check's widget to be rendered.
func waitWidget(t *testing.T, ctx context.Context) {
	t.Helper()
	waitTrue(t, ctx, "the bot check's widget is shown", `document.readyState === "complete" && document.querySelector(`+widgetBox+`) !== null`)
}

// wantBlocked checks that the form waits for the check: the button is
// disabled, the hint says why, and the widget is not ticked.
func wantBlocked(t *testing.T, ctx context.Context, when string) {
	t.Helper()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[
		String(document.getElementById("verify").disabled),
		(h => h.offsetParent !== null ? h.textContent.trim() : "(hidden)")(document.getElementById("bot-check-hint")),
		document.querySelector(`+widgetBox+`).getAttribute("aria-checked"),
	]`))
	if err != nil || len(got) != 3 || got[0] != "true" || got[1] != "Please complete the check above." || got[2] != "false" {
		t.Errorf("%s: button disabled, hint and widget ticked: %q (%v); want the form blocked until the check", when, got, err)
	}
}

// completeCheck clicks the check as a person does, after a pause, waits
// for the form to be ready to send, and returns the widget's token.
func completeCheck(t *testing.T, ctx context.Context) string {
	t.Helper()
	personPause()
	clickAt(t, ctx, "#bot-check #turnstile-widget [role=checkbox]")
	waitTrue(t, ctx, "the form is ready to send after the check", `!document.getElementById("verify").disabled`)
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[
		document.querySelector('input[name="cf-turnstile-response"]').value,
		document.querySelector(`+widgetBox+`).getAttribute("aria-checked"),
		String(document.getElementById("bot-check-hint").hidden),
	]`))
	if err != nil || len(got) != 3 || got[0] == "" || got[1] != "true" || got[2] != "true" {
		t.Fatalf("after the check: token, widget ticked, hint hidden: %q (%v)", got, err)
	}
	return got[0]
}

// signUp sends a sign-up with a bot-check token from outside the page, as
// a script that got hold of the token would, from the site's origin.
func signUp(t *testing.T, d *devServer, email, token string) (int, map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"client":             map[string]any{"type": "person", "email": email, "personDetails": map[string]string{"firstName": "Some", "lastName": "One"}},
		"workflowTemplateId": demoTemplate,
		"successUrl":         d.site + "/success.html",
		"cancelUrl":          d.site + "/cancel.html",
		"turnstileToken":     token,
	})
	req, _ := http.NewRequest(http.MethodPost, d.api+"/sessions", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", d.site)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var answer map[string]any
	json.NewDecoder(res.Body).Decode(&answer)
	return res.StatusCode, answer
}

// The helpers below act on the page through JavaScript and raw input
// events, not through chromedp's queries: those lose the page that the
// back button restores from Chromium's back/forward cache, and wait on it
// until the test times out.

// back goes back in the tab's history, as the back button does, and waits
// for the page at want.
func back(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	js, _ := json.Marshal(want)
	do(t, ctx, "back", chromedp.Evaluate[chromedp.Void](`history.back()`))
	waitTrue(t, ctx, "back at "+want, `location.href === `+string(js)+` && document.readyState === "complete"`)
}

// waitTrue waits up to 10 s for the JavaScript expression to be true. It
// asks again and again rather than with one Poll, which fails when the
// page it runs in is navigated away meanwhile.
func waitTrue(t *testing.T, ctx context.Context, what, expression string) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var ok bool
		if ok, err = chromedp.Run(ctx, chromedp.Evaluate[bool](expression)); err == nil && ok {
			return
		}
	}
	loc, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href`))
	t.Fatalf("%s: not so within 10 s (at %s; %v)", what, loc, err)
}

// waitSimulator waits for the simulator's hosted page.
func waitSimulator(t *testing.T, ctx context.Context, d *devServer) {
	t.Helper()
	js, _ := json.Marshal(d.sim + "/session/")
	waitTrue(t, ctx, "at the simulator's page", `location.href.startsWith(`+string(js)+`) && document.readyState === "complete" && document.getElementById("complete") !== null`)
}

// clickAt clicks, with the mouse, the middle of the element the CSS
// selector finds, as a person does.
func clickAt(t *testing.T, ctx context.Context, css string) {
	t.Helper()
	js, _ := json.Marshal(css)
	xy, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(e => {
		e.scrollIntoView({block: "center"});
		const r = e.getBoundingClientRect();
		return [r.left + r.width / 2, r.top + r.height / 2];
	})(document.querySelector(`+string(js)+`))`))
	if err != nil || len(xy) != 2 {
		t.Fatalf("find %s: %v", css, err)
	}
	do(t, ctx, "click "+css, chromedp.MouseClickXY(xy[0], xy[1]))
}

// typeIn empties the field with that id, focuses it and types text into it.
func typeIn(t *testing.T, ctx context.Context, id, text string) {
	t.Helper()
	do(t, ctx, "type into #"+id,
		chromedp.Evaluate[chromedp.Void](`(e => { e.value = ""; e.focus(); })(document.getElementById("`+id+`"))`),
		chromedp.KeyEvent(text),
	)
}

// jsText is the text of the element with that id.
func jsText(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("`+id+`").textContent`))
	if err != nil {
		t.Fatalf("text of #%s: %v", id, err)
	}
	return strings.TrimSpace(v)
}

// logComeBack says how the page the back button showed came back: as it
// was left (the back/forward cache) or loaded again. The site must handle
// both; which one Chromium takes is its choice.
func logComeBack(t *testing.T, ctx context.Context) {
	t.Helper()
	how, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`performance.getEntriesByType("navigation")[0].type === "back_forward" ? "loaded again" : "restored from the back/forward cache"`))
	t.Logf("the page came back %s", how)
}

// TestBrowserInvitationLeavesNoTrace: a page opened with an invitation
// link takes the token out of its address and the tab's history at once,
// and no request the site makes carries it in a Referer, while the
// invitation still works: to the simulator's page, back, and again after
// a cancel ("Start again" has no token in its link), until the invitation
// is used up (410), which the page says in the visitor's words.
func TestBrowserInvitationLeavesNoTrace(t *testing.T) {
	if testing.Short() {
		t.Skip("real-browser test; -short skips it")
	}
	d := startDevServerArgs(t, map[string]string{"CLIENT_SOURCE": "invitation", "INVITATION_MAX_SESSIONS": "3"}, "-simulator-rate", "50")
	var link, invited string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && link == ""; time.Sleep(10 * time.Millisecond) {
		if m := invitationLine.FindStringSubmatch(d.out.String()); m != nil {
			invited, link = m[1], m[2]
		}
	}
	token, found := strings.CutPrefix(link, d.site+"/?invitation=")
	if !found || len(token) < 40 {
		t.Fatalf("no invitation link in the dev server's first lines:\n%s", d.out.String())
	}
	ctx := browser(t)
	sent := recordRequests(ctx)
	do(t, ctx, "open the invitation", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("verify")))

	// Right after load: the address and every history entry of the tab
	// are without the token, and the token is kept for this tab only.
	if loc := location(t, ctx); loc != d.site+"/" {
		t.Errorf("after load the address is %s, want %s/", loc, d.site)
	}
	noTokenInHistory(t, ctx, token, "after load")
	if kept, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`sessionStorage.getItem("complycube.invitation") || ""`)); kept != token {
		t.Errorf("the token is not kept in the tab's sessionStorage: %q", kept)
	}
	if got := text(t, ctx, "verify"); got != "Continue to verification" {
		t.Errorf("button %q", got)
	}
	// What a request that asks for the whole address as its Referer would
	// reveal: the address without the token. (This also shows that the
	// recorder sees Referer headers.)
	do(t, ctx, "a request that asks for the full referrer",
		chromedp.Evaluate[chromedp.Void](`fetch("style.css?probe", {referrerPolicy: "unsafe-url", cache: "no-store"}).then(r => r.text())`, chromedp.EvalAwaitPromise))
	if got := sent.referers(d.site + "/style.css?probe"); len(got) == 0 || got[0] != d.site+"/" {
		t.Errorf("a request with referrerPolicy unsafe-url sent Referer %q, want %s/", got, d.site)
	}

	// The flow works: to the simulator's page for the invited client,
	// which sees no referrer.
	do(t, ctx, "Continue", chromedp.Click(chromedp.ID("verify")), chromedp.WaitVisible(chromedp.ID("complete")))
	if got := text(t, ctx, "client-id"); got != invited {
		t.Errorf("session for %q, want the invited client %q", got, invited)
	}
	if ref, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.referrer`)); err != nil || ref != "" {
		t.Errorf("the simulator's page has document.referrer %q (%v), want none", ref, err)
	}
	noTokenInHistory(t, ctx, token, "at the simulator's page")

	// Back: the site's page, still without the token, and the invitation
	// still works from the tab's sessionStorage.
	back(t, ctx, d.site+"/")
	logComeBack(t, ctx)
	noTokenInHistory(t, ctx, token, "back from the simulator's page")
	waitTrue(t, ctx, "the button is ready again", `!document.getElementById("verify").disabled && document.getElementById("verify").textContent.trim() === "Continue to verification"`)
	clickAt(t, ctx, "#verify")
	waitSimulator(t, ctx, d)
	if got := jsText(t, ctx, "client-id"); got != invited {
		t.Errorf("second session for %q, want %q", got, invited)
	}

	// Cancel, then "Start again" (a link to index.html, no token): the
	// invitation still works, for its third and last session.
	personPause()
	clickAt(t, ctx, "#cancel")
	js, _ := json.Marshal(d.site + "/cancel.html")
	waitTrue(t, ctx, "at the cancel page", `location.href === `+string(js)+` && document.readyState === "complete"`)
	clickAt(t, ctx, "a.button-link")
	// (The dev server's file server answers /index.html with a redirect to /.)
	waitTrue(t, ctx, "the site's page, ready", `location.pathname === "/" && document.readyState === "complete" && !document.getElementById("verify").disabled`)
	clickAt(t, ctx, "#verify")
	waitSimulator(t, ctx, d)

	// A fourth time: the invitation is used up (410). The page says so, and
	// forgets the token.
	back(t, ctx, d.site+"/")
	waitTrue(t, ctx, "the button is ready again", `!document.getElementById("verify").disabled`)
	clickAt(t, ctx, "#verify")
	waitTrue(t, ctx, "an error is shown", `document.querySelector("#status.error") !== null`)
	if got := jsText(t, ctx, "status"); got != "This invitation link has been used as many times as it allows. Please ask for a new one." {
		t.Errorf("after a 410 the page says %q", got)
	}
	if countRequests(d.out.String(), "POST", "/sessions", 410) != 1 {
		t.Errorf("the dev server did not answer 410 once:\n%s", d.out.String())
	}
	if kept, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`sessionStorage.getItem("complycube.invitation") || ""`)); kept != "" {
		t.Errorf("the used-up token is still kept: %q", kept)
	}
	noTokenInHistory(t, ctx, token, "at the end")

	// No request but the opening of the link had the token in its address,
	// none sent it in a Referer, and no page of the site sent a Referer at
	// all (its stylesheet and script, the calls to the API, the moves to
	// the simulator, "Start again"), but the request that asked for one.
	all := sent.all()
	var opened []network.RequestID
	for _, r := range all {
		if strings.Contains(r.url, token) {
			if r.url != link || !r.document {
				t.Errorf("a request has the token in its address: %s", r.url)
			} else if !slices.Contains(opened, r.id) {
				opened = append(opened, r.id)
			}
		}
		if strings.Contains(r.referer, token) {
			t.Errorf("a request to %s sent the token in its Referer", r.url)
		}
		if strings.HasPrefix(r.referer, d.site) && r.url != d.site+"/style.css?probe" {
			t.Errorf("a request of the site to %s sent Referer %q", r.url, r.referer)
		}
	}
	if len(opened) != 1 {
		t.Errorf("the link was requested %d times, want once (its opening): %v", len(opened), all)
	}
	for _, want := range []string{d.site + "/style.css", d.site + "/app.js", d.api + "/sessions"} {
		if !slices.ContainsFunc(all, func(r sentRequest) bool { return r.url == want }) {
			t.Errorf("the recorder did not see a request to %s", want)
		}
	}
}

// noTokenInHistory checks the tab's address and every entry of its
// history (the back and forward lists) for the token. (Chromium keeps the
// address first typed or opened in an entry's UserTypedURL, for its own
// address bar; no page can read or change it, so it is not checked.)
func noTokenInHistory(t *testing.T, ctx context.Context, token, when string) {
	t.Helper()
	h, err := chromedp.Run(ctx, chromedp.NavigationEntries())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range h.Entries {
		if strings.Contains(e.URL, token) {
			t.Errorf("%s: the tab's history has an entry with the token: %s", when, e.URL)
		}
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href`)); strings.Contains(loc, token) {
		t.Errorf("%s: the address has the token: %s", when, loc)
	}
}

// sentRequest is one request a tab sent, as the browser reported it: its
// address, whether it loaded a document, and its Referer header.
type sentRequest struct {
	id       network.RequestID
	url      string
	document bool
	referer  string
}

// requestRecorder keeps every request the tab sends, with the Referer of
// the browser's own account of it (requestWillBeSent) and of the headers
// its network stack put on the wire (requestWillBeSentExtraInfo), which
// may come in either order.
type requestRecorder struct {
	mu       sync.Mutex
	requests []sentRequest
	wire     map[network.RequestID][]string // Referer headers on the wire
}

func recordRequests(ctx context.Context) *requestRecorder {
	r := &requestRecorder{wire: map[network.RequestID][]string{}}
	will := chromedp.Events(ctx, network.RequestWillBeSent)
	extra := chromedp.Events(ctx, network.RequestWillBeSentExtraInfo)
	go func() {
		for ev, err := range will {
			if err != nil {
				return
			}
			r.mu.Lock()
			r.requests = append(r.requests, sentRequest{id: ev.RequestID, url: ev.Request.URL, document: ev.Type == network.ResourceTypeDocument, referer: header(ev.Request.Headers, "Referer")})
			r.mu.Unlock()
		}
	}()
	go func() {
		for ev, err := range extra {
			if err != nil {
				return
			}
			r.mu.Lock()
			r.wire[ev.RequestID] = append(r.wire[ev.RequestID], header(ev.Headers, "Referer"))
			r.mu.Unlock()
		}
	}()
	return r
}

// all is every request so far, once for the browser's account of its
// Referer and once for each set of headers on the wire.
func (r *requestRecorder) all() []sentRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all []sentRequest
	urls := map[network.RequestID]sentRequest{}
	for _, q := range r.requests {
		all = append(all, q)
		urls[q.id] = q
	}
	for id, refs := range r.wire {
		for _, ref := range refs {
			q := urls[id] // url "" when the browser's account is not in yet
			q.id, q.referer = id, ref
			all = append(all, q)
		}
	}
	return all
}

// referers are the Referer headers of the requests to url, waiting up to
// 5 s for the first.
func (r *requestRecorder) referers(url string) []string {
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var refs []string
		for _, q := range r.all() {
			if q.url == url {
				refs = append(refs, q.referer)
			}
		}
		if len(refs) > 0 || time.Now().After(deadline) {
			return refs
		}
	}
}

// header is a header's value, whatever the case of its name.
func header(h network.Headers, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}
