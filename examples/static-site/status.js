const ENDPOINT = "http://127.0.0.1:3000/sessions";
// ^ The same line as in app.js: the full URL of your deployed /sessions
//   endpoint (the "SessionsEndpoint" output of `sam deploy`). This page asks
//   ENDPOINT + "/status" (the "StatusEndpoint" output). The dev server
//   rewrites this line to its own address when it serves this file.

// The success page: it tells the visitor where their verification stands.
// app.js keeps the statusToken that POST /sessions answered with in
// sessionStorage (this tab only) before it sends the browser to ComplyCube;
// this page sends it to POST ENDPOINT/status right away, then every few
// seconds until there is an outcome, the verification was cancelled, or
// about a minute has passed. "Check again" starts over.

const STATUS_TOKEN_KEY = "complycube.statusToken"; // the same key as in app.js
const POLL_EVERY_MS = 3000;
const POLL_FOR_MS = 60000;
const REQUEST_TIMEOUT_MS = 10000;
const QUIET_FAILURES = 3; // failed requests in a row before the visitor is told

const statusLine = document.getElementById("status");
const next = document.getElementById("next");
const again = document.getElementById("check-again");

// What the visitor reads. The API's own text is never shown: it goes to
// the developer console.
const TEXT = {
  checking: "Checking where your verification stands…",
  pending: "We have not heard back about your verification yet. This page checks again every few seconds.",
  started: "Your verification has started but is not finished yet. This page checks again every few seconds.",
  processing: "Your documents are being checked. This page checks again every few seconds.",
  submitted: "Your verification has been submitted and is being checked. This page checks again every few seconds.",
  clear: "You are verified. Thank you!",
  attention: "Your verification needs a closer look by our team before it can be completed.",
  rejected: "We could not verify your identity.",
  cancelled: "Your verification was cancelled before it was finished.",
  notFound: "We cannot find a verification started in this browser.",
  unknown: "We cannot tell right now where your verification stands. Please check again in a few minutes.",
};
const NEXT = {
  later: "This can take a few minutes. Keep this page open and choose “Check again” later.",
  startAgain: "You can start a new verification from the shop whenever you are ready.",
  notFound: "If you started it on another device, or in another browser or tab, open this page there. Otherwise you can start a verification from the shop.",
};

let token = null;
try {
  token = sessionStorage.getItem(STATUS_TOKEN_KEY);
} catch (err) {
  // Storage is blocked in this browser: the same as no token.
  console.warn("sessionStorage cannot be read: " + err);
}

let deadline = 0;
let failures = 0;
let lastAnswer = null; // the last status the API answered, for the final message
let timer = 0;

// show puts message in the status line (an aria-live region) only when it
// changes, so that a screen reader is not told the same thing every few
// seconds; tone is "info", "ok" or "error".
function show(message, tone, nextText) {
  if (statusLine.textContent !== message) statusLine.textContent = message;
  const className = "status " + tone;
  if (statusLine.className !== className) statusLine.className = className;
  statusLine.hidden = false;
  const text = nextText || "";
  if (next.textContent !== text) next.textContent = text;
  next.hidden = text === "";
}

// stop ends the polling; with retry, "Check again" is offered.
function stop(retry) {
  clearTimeout(timer);
  timer = 0;
  again.hidden = !retry;
}

function describe(answer) {
  switch (answer.status) {
    case "completed":
      if (answer.outcome === "clear") return { message: TEXT.clear, tone: "ok", final: true };
      if (answer.outcome === "attention") return { message: TEXT.attention, tone: "info", final: true };
      if (answer.outcome === "rejected") return { message: TEXT.rejected, tone: "error", final: true, next: NEXT.startAgain };
      return { message: TEXT.submitted, tone: "info", final: false };
    case "cancelled":
      return { message: TEXT.cancelled, tone: "info", final: true, next: NEXT.startAgain };
    case "processing":
      return { message: TEXT.processing, tone: "info", final: false };
    case "started":
      return { message: TEXT.started, tone: "info", final: false };
    default: // pending, or a status this page does not know yet
      return { message: TEXT.pending, tone: "info", final: false };
  }
}

// stillWaiting is the message once the minute is over: where things stood
// at the last answer, and when to look again.
function stillWaiting() {
  if (!lastAnswer) {
    show(TEXT.unknown, "info");
  } else if (lastAnswer.status === "pending") {
    show("We have not heard back about your verification yet.", "info", NEXT.later);
  } else {
    show("Your verification is still being processed.", "info", NEXT.later);
  }
  stop(true);
}

async function ask() {
  timer = 0;
  let response;
  const abort = new AbortController();
  const abortTimer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
  try {
    response = await fetch(ENDPOINT + "/status", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ statusToken: token }),
      signal: abort.signal,
    });
  } catch (err) {
    // No answer, or one the browser keeps from this page (CORS).
    console.warn("The browser could not reach " + ENDPOINT + "/status, or blocked its answer (CORS): " + err);
    return failed(0);
  } finally {
    clearTimeout(abortTimer);
  }

  let data = null;
  try {
    data = await response.json();
  } catch (_) {
    // not JSON: handled below
  }
  if (response.ok && data && typeof data.status === "string") {
    failures = 0;
    lastAnswer = data;
    const d = describe(data);
    if (d.final) {
      show(d.message, d.tone, d.next);
      stop(false);
      return;
    }
    show(d.message, d.tone);
    return later(POLL_EVERY_MS);
  }
  console.warn("The status endpoint answered " + response.status + ":", data ? JSON.stringify(data) : "(no JSON body)");
  if (response.status === 404) {
    // Unknown, expired or malformed: the same for the visitor as no token.
    show(TEXT.notFound, "info", NEXT.notFound);
    stop(false);
    return;
  }
  if (response.status === 429 || response.status >= 500) {
    return failed(retryAfterMs(response.headers.get("Retry-After")));
  }
  // Any other answer (400, 403, 415) is this page's own mistake, and asking
  // again does not change it.
  show(TEXT.unknown, "info");
  stop(true);
}

// failed counts a failed request: the visitor keeps seeing the last status
// until QUIET_FAILURES in a row, then is told that we cannot tell now.
function failed(waitMs) {
  failures++;
  if (failures >= QUIET_FAILURES) {
    show(TEXT.unknown, "info");
    stop(true);
    return;
  }
  later(Math.max(POLL_EVERY_MS, waitMs));
}

// later asks again after ms, unless that is past the deadline.
function later(ms) {
  if (Date.now() + ms > deadline) {
    stillWaiting();
    return;
  }
  timer = setTimeout(ask, ms);
}

// retryAfterMs reads a Retry-After of whole seconds (at most 30), or 0.
function retryAfterMs(header) {
  if (!header || !/^\d+$/.test(header.trim())) return 0;
  return Math.min(Number(header), 30) * 1000;
}

function start() {
  stop(false);
  failures = 0;
  deadline = Date.now() + POLL_FOR_MS;
  show(TEXT.checking, "info");
  ask();
}

again.addEventListener("click", () => {
  // The button hides itself: keep the keyboard focus on the page.
  statusLine.focus();
  start();
});

if (token) {
  start();
} else {
  show(TEXT.notFound, "info", NEXT.notFound);
}
