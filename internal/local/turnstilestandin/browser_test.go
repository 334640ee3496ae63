package turnstilestandin

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/complycube-session/createsession/internal/testonly/headless"
)

// page is a site that uses the widget both ways: implicitly rendered
// (.cf-turnstile in a form, with data-callback) and turnstile.render.
const page = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>widget</title>
<script>
window.got = []; window.errors = []; window.expired = [];
function onExpired(token) { window.expired.push(token); }
function onToken(token) { window.got.push(token); }
function onError(code) { window.errors.push(code); }
function onLoaded() { window.loaded = true; }
</script>
<script src="%s/turnstile/v0/api.js?onload=onLoaded" async defer></script>
</head><body>
<form id="signup"><div class="cf-turnstile" data-sitekey="%s" data-callback="onToken" data-expired-callback="onExpired" data-error-callback="onError"></div></form>
<form id="blocked"><div class="cf-turnstile" data-sitekey="%s" data-error-callback="onError"></div></form>
<form id="other"><div id="explicit"></div></form>
</body></html>`

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

func waitFor(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("%s (%s): %v", what, expr, err)
	}
}

// TestWidgetInABrowser loads the script into a page on another origin in
// headless Chromium, clicks the widget and checks that the token it puts
// in the form verifies once, for the page's host.
func TestWidgetInABrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("real-browser test; -short skips it")
	}
	h, api := startStandIn(t, Config{})
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, page, api.URL, DefaultSiteKey, TestSiteKeyBlock)
	}))
	defer site.Close()

	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), headless.Options(t)...)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(actx)
	defer cancelCtx()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	// The site is on "localhost", the stand-in on 127.0.0.1: two origins,
	// and the token must name the site's host.
	siteURL := strings.Replace(site.URL, "127.0.0.1", "localhost", 1)
	if err := chromedp.Do(ctx, chromedp.Navigate(siteURL+"/"), chromedp.WaitVisible(chromedp.CSS(`#signup button[role="checkbox"]`))); err != nil {
		t.Fatalf("open the page: %v", err)
	}
	waitFor(t, ctx, "onload called", `window.loaded === true`)
	const button = `document.querySelector('#signup button[role="checkbox"]')`
	if got := eval[string](t, ctx, button+`.textContent.trim()`); got != "Verify you are human (local stand-in for Cloudflare Turnstile)" {
		t.Errorf("button text %q", got)
	}
	if got := eval[string](t, ctx, button+`.getAttribute("aria-checked")`); got != "false" {
		t.Errorf("aria-checked %q before the click", got)
	}
	if got := eval[string](t, ctx, `new FormData(document.getElementById("signup")).get("cf-turnstile-response")`); got != "" {
		t.Errorf("a token %q before the click", got)
	}

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#signup button[role="checkbox"]`))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the callback", `window.got.length === 1`)
	token := eval[string](t, ctx, `window.got[0]`)
	if got := eval[string](t, ctx, `new FormData(document.getElementById("signup")).get("cf-turnstile-response")`); got != token {
		t.Errorf("the form's cf-turnstile-response is %q, the callback had %q", got, token)
	}
	if got := eval[string](t, ctx, `turnstile.getResponse()`); got != token {
		t.Errorf("getResponse() %q", got)
	}
	if got := eval[string](t, ctx, button+`.getAttribute("aria-checked")`); got != "true" {
		t.Errorf("aria-checked %q after the click", got)
	}
	if got := eval[string](t, ctx, `document.querySelector('#signup [role="status"]').textContent`); !strings.Contains(got, "Success") {
		t.Errorf("status %q", got)
	}
	// Clicking again asks for nothing new.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#signup button[role="checkbox"]`)), chromedp.Sleep(200*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if n := eval[int](t, ctx, `window.got.length`); n != 1 {
		t.Errorf("%d tokens after a second click", n)
	}

	checkAnswer(t, "the widget's token", h.Verifier().Verify(Query{Secret: h.Secret(), Response: token}), true, "localhost")
	checkAnswer(t, "again", h.Verifier().Verify(Query{Secret: h.Secret(), Response: token}), false, "", CodeTimeoutOrDuplicate)

	// reset clears the token and the check.
	eval[any](t, ctx, `turnstile.reset(document.querySelector("#signup .cf-turnstile")), null`)
	if got := eval[string](t, ctx, `new FormData(document.getElementById("signup")).get("cf-turnstile-response") + "|" + `+button+`.getAttribute("aria-checked") + "|" + String(turnstile.getResponse())`); got != "|false|undefined" {
		t.Errorf("after reset: %q", got)
	}

	// After 300 s (here: the page's timers shortened) the token expires:
	// the expired-callback has it, the form no longer does.
	eval[any](t, ctx, `(function () { var st = window.setTimeout; window.setTimeout = function (f, d) { return st(f, d >= 290000 ? 50 : d); }; })(), null`)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#signup button[role="checkbox"]`))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the expired-callback", `window.expired.length === 1`)
	if got := eval[string](t, ctx, `(window.expired[0] === window.got[1]) + "|" + new FormData(document.getElementById("signup")).get("cf-turnstile-response") + "|" + `+button+`.getAttribute("aria-checked") + "|" + turnstile.isExpired()`); got != "true||false|true" {
		t.Errorf("after expiry: %q", got)
	}

	// Explicit rendering, with a callback function.
	id := eval[string](t, ctx, `window.explicitGot = ""; turnstile.render("#explicit", {sitekey: "k", callback: function (t) { window.explicitGot = t; }})`)
	if id == "" {
		t.Fatal("render returned no id")
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#explicit button[role="checkbox"]`))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the explicit callback", `window.explicitGot !== ""`)
	explicit := eval[string](t, ctx, `window.explicitGot`)
	if got := eval[string](t, ctx, `turnstile.getResponse(`+fmt.Sprintf("%q", id)+`)`); got != explicit {
		t.Errorf("getResponse(%s) %q, callback %q", id, got, explicit)
	}
	checkAnswer(t, "the explicit widget's token", h.Verifier().Verify(Query{Secret: h.Secret(), Response: explicit}), true, "localhost")

	// A test site key that always blocks: the error callback, no token.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#blocked button[role="checkbox"]`))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the error callback", `window.errors.length === 1`)
	if got := eval[string](t, ctx, `String(window.errors[0]) + "|" + new FormData(document.getElementById("blocked")).get("cf-turnstile-response")`); got != "403|" {
		t.Errorf("blocked: %q", got)
	}
}
