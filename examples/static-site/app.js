const ENDPOINT = "http://127.0.0.1:3000/sessions";
// ^ The one line to change: the full URL of your deployed endpoint (the
//   "SessionsEndpoint" output of `sam deploy`). The dev server rewrites it to
//   its own address when it serves this file.

const CLIENT_SOURCE = "signup";
// ^ The function's CLIENT_SOURCE: "signup" (this page asks who is being
//   verified and the function creates the ComplyCube client), "invitation"
//   (people arrive by a signed link, ?invitation=..., from cmd/invite), or
//   "request" (your own sign-up created the client; this page sends its ID).
//   A page opened with ?invitation= always takes the invitation path. The
//   dev server rewrites this line to its own CLIENT_SOURCE.

const TURNSTILE_SCRIPT = "";
const TURNSTILE_SITE_KEY = "";
// ^ The bot check, for the function's BOT_CHECK=turnstile with
//   CLIENT_SOURCE "signup": set TURNSTILE_SCRIPT to Cloudflare's widget
//   script, "https://challenges.cloudflare.com/turnstile/v0/api.js", and
//   TURNSTILE_SITE_KEY to your Turnstile widget's public site key (the
//   stack's TurnstileSiteKey parameter, shown again as its TurnstileSiteKey
//   output; the secret key goes into the secret, never here). The sign-up
//   form then shows Cloudflare's check above its button and sends the
//   token it gives. Leave both "" with BOT_CHECK=off. The dev server
//   rewrites both lines: with BOT_CHECK=turnstile to its local stand-in for
//   Turnstile (or, with a TURNSTILE_VERIFY_URL of your own, to Cloudflare's
//   script and the TURNSTILE_SITE_KEY of its environment), else to "".

// The ComplyCube workflow template to run. Leave it empty when the function
// is configured with WORKFLOW_TEMPLATE_IDS (the first one is the default).
const WORKFLOW_TEMPLATE_ID = "wt_example";

// An invitation link (?invitation=...) is a credential: whoever holds it
// can start a verification for the invited person. So, before anything
// else runs, it leaves the address: history.replaceState gives this
// history entry the address without it (the address bar, the back
// button, a bookmark or a screenshot no longer show it), and the token is
// kept only in this tab's sessionStorage, for this tab's submission (and
// for "Start again" after a cancel, which has no token in its link). Every
// page of the site has <meta name="referrer" content="no-referrer">, so
// that no request (this page's stylesheet and script, the call to
// ENDPOINT, the move to ComplyCube) sends a Referer that could carry it.
const INVITATION_KEY = "complycube.invitation";
const invitation = takeInvitation();

function takeInvitation() {
  const url = new URL(location.href);
  const fromLink = url.searchParams.get("invitation");
  if (fromLink !== null) {
    url.searchParams.delete("invitation");
    history.replaceState(history.state, "", url.pathname + url.search + url.hash);
  }
  try {
    if (fromLink) sessionStorage.setItem(INVITATION_KEY, fromLink);
    return fromLink || sessionStorage.getItem(INVITATION_KEY) || "";
  } catch (err) {
    // Storage is blocked (a privacy setting): this page still works.
    return fromLink || "";
  }
}

// forgetInvitation drops an invitation the function refused for good
// (not valid, or used up).
function forgetInvitation() {
  try {
    sessionStorage.removeItem(INVITATION_KEY);
  } catch (_) {
    // nothing kept
  }
}

const form = document.getElementById("verify-form");
const button = document.getElementById("verify");
const status = document.getElementById("status");
const mode = invitation ? "invitation" : CLIENT_SOURCE;
const buttonLabel = mode === "invitation" ? "Continue to verification" : "Verify identity";

// Show what this mode asks for, and nothing else.
document.getElementById("signup-fields").hidden = mode !== "signup";
document.getElementById("request-fields").hidden = mode !== "request";
if (mode === "invitation") {
  document.getElementById("theme-fields").hidden = true;
  document.getElementById("lead").textContent = invitation
    ? "You were invited to confirm who you are. It takes about two minutes and needs a photo ID."
    : "This page needs the invitation link you were sent. Open that link to continue.";
}
button.querySelector(".label").textContent = buttonLabel;
for (const radio of document.querySelectorAll('input[name="client-type"]')) {
  radio.addEventListener("change", () => {
    const company = document.querySelector('input[name="client-type"]:checked').value === "company";
    document.getElementById("person-fields").hidden = company;
    document.getElementById("company-fields").hidden = !company;
  });
}

// The bot check (Cloudflare Turnstile), on sign-ups when both of its
// lines above are set. The widget is rendered explicitly (?render=explicit
// and an onload callback, as Cloudflare documents) inside the form, above
// the button. Its callback hands this page a token, which the sign-up
// sends as turnstileToken; the button stays disabled until there is one.
// A token is good for one check within 300 seconds: after any answer
// other than 200 the function may have used it, so the widget is reset
// and the person completes the check again.
const botCheck = mode === "signup" && TURNSTILE_SCRIPT !== "" && TURNSTILE_SITE_KEY !== "";
const botHint = document.getElementById("bot-check-hint");
let botToken = "";
let botWidget = null; // the widget's ID once rendered
let submitting = false;

if (mode === "signup" && (TURNSTILE_SCRIPT === "") !== (TURNSTILE_SITE_KEY === "")) {
  console.warn("The bot check needs both TURNSTILE_SCRIPT and TURNSTILE_SITE_KEY in app.js; with one of them empty the sign-up form shows no check.");
}
if (botCheck) startBotCheck();
updateButton();

function startBotCheck() {
  document.getElementById("bot-check").hidden = false;
  button.setAttribute("aria-describedby", "bot-check-hint");
  window.onTurnstileLoad = () => {
    botWidget = window.turnstile.render(document.getElementById("turnstile-widget"), {
      sitekey: TURNSTILE_SITE_KEY,
      callback: (token) => setBotToken(token),
      "expired-callback": () => setBotToken(""),
      "timeout-callback": () => setBotToken(""),
      "error-callback": (code) => {
        setBotToken("");
        console.warn("The Turnstile widget reported error " + code + ".");
        return true; // handled: the widget asks the person to try again
      },
    });
  };
  const src = new URL(TURNSTILE_SCRIPT, location.href);
  src.searchParams.set("render", "explicit");
  src.searchParams.set("onload", "onTurnstileLoad");
  const script = document.createElement("script");
  script.src = src.href;
  script.async = true;
  script.referrerPolicy = "no-referrer";
  script.addEventListener("error", () => {
    console.warn("The bot check's script " + TURNSTILE_SCRIPT + " could not be loaded.");
    showStatus(MESSAGES.botCheckLoad);
  });
  document.head.appendChild(script);
}

function setBotToken(token) {
  botToken = typeof token === "string" ? token : "";
  updateButton();
}

// resetBotCheck throws the token away and asks the widget for a new check.
function resetBotCheck() {
  if (!botCheck) return;
  botToken = "";
  if (botWidget !== null && window.turnstile) {
    try {
      window.turnstile.reset(botWidget);
    } catch (err) {
      console.warn("The Turnstile widget could not be reset: " + err);
    }
  }
  updateButton();
}

// updateButton enables the button when there is something to send: an
// invitation in invitation mode, a token from the check when it is on.
function updateButton() {
  const waitingForCheck = botCheck && botToken === "";
  botHint.hidden = !waitingForCheck;
  if (!submitting) {
    button.disabled = waitingForCheck || (mode === "invitation" && !invitation);
  }
}

function value(id) {
  return document.getElementById(id).value.trim();
}

function clearErrors() {
  status.textContent = "";
  status.className = "status";
  for (const el of document.querySelectorAll("[data-error-for]")) el.textContent = "";
  for (const el of document.querySelectorAll("[data-param]")) el.removeAttribute("aria-invalid");
}

function ready() {
  submitting = false;
  button.removeAttribute("aria-busy");
  button.querySelector(".label").textContent = buttonLabel;
  updateButton();
}

// The visitor's own words for the field an answer names (its param). The
// function names the fields of a sign-up "client.email" and so on;
// ComplyCube's own 400, which the function passes on as it is, names them
// without "client.".
const FIELD_MESSAGES = {
  "client.email": "Please enter a valid e-mail address.",
  "client.personDetails.firstName": "Please enter your first name.",
  "client.personDetails.lastName": "Please enter your last name.",
  "client.companyDetails.name": "Please enter the company's name.",
  clientId: "Please enter a valid ComplyCube client ID.",
};
const PARAM_ALIASES = {
  email: "client.email",
  "personDetails.firstName": "client.personDetails.firstName",
  "personDetails.lastName": "client.personDetails.lastName",
  "companyDetails.name": "client.companyDetails.name",
};

// Messages that are not about one field the visitor can correct.
const MESSAGES = {
  invitation: "This invitation link is not valid. Please open the link from your invitation again, or ask for a new one.",
  invitationUsedUp: "This invitation link has been used as many times as it allows. Please ask for a new one.",
  botCheck: "We could not confirm you are a person. Please complete the check again.",
  botCheckMissing: "Please complete the check that you are a person, then try again.",
  botCheckLoad: "The check that you are a person could not be loaded. Please check your internet connection, then reload this page.",
  unavailable: "The verification service is not available right now.",
  upstream: "The verification service is not answering right now. Please try again in a few minutes.",
  ours: "Something went wrong on our side, and the verification could not start. Please try again later.",
  network: "We could not reach the verification service. Please check your internet connection and try again.",
};

// The function's 429s for its own sign-up limits say which limit in their
// message (this address, this e-mail address, today's sign-ups); each has
// the visitor's own words. Any other 429 (ComplyCube's) is "too many
// attempts". later is said when the page cannot read Retry-After.
const LIMITS = [
  { says: "this e-mail address", text: "This e-mail address has been used for too many sign-ups today.", later: "Please try again tomorrow." },
  { says: "this address", text: "Too many sign-ups have come from your internet connection.", later: "Please try again later." },
  { says: "today's sign-ups", text: "We have started as many verifications today as we can.", later: "Please try again tomorrow." },
  { says: "", text: "Too many attempts.", later: "Please wait a few minutes, then try again." },
];

// retryIn says "about 1 minute", "about 5 minutes" or "about 3 hours" for
// a Retry-After header (seconds or an HTTP date), or "" when there is none
// to read. A browser lets a page read Retry-After from another origin only
// when the answer lists it in Access-Control-Expose-Headers, as the
// function's answers do.
function retryIn(header) {
  if (!header) return "";
  const seconds = /^\d+$/.test(header.trim()) ? Number(header) : (Date.parse(header) - Date.now()) / 1000;
  if (!Number.isFinite(seconds)) return "";
  const minutes = Math.max(1, Math.ceil(seconds / 60));
  if (minutes < 120) return minutes === 1 ? "about 1 minute" : "about " + minutes + " minutes";
  return "about " + Math.round(minutes / 60) + " hours";
}

// visitorMessage turns an error answer into words for the visitor; the
// answer itself goes to the developer console.
function visitorMessage(status, data, retryAfter) {
  const type = data && data.type;
  const wait = retryIn(retryAfter);
  if (status === 429) {
    const message = data && typeof data.message === "string" ? data.message.toLowerCase().replace(/\u2019/g, "'") : "";
    const limit = LIMITS.find((l) => l.says === "" || message.includes(l.says));
    return limit.text + " " + (wait ? "Please try again in " + wait + "." : limit.later);
  }
  if (type === "bot_check_failed") return MESSAGES.botCheck;
  if (status === 410 || type === "invitation_used_up") return MESSAGES.invitationUsedUp;
  if (status === 503) return MESSAGES.unavailable + " " + (wait ? "Please try again in " + wait + "." : "Please try again shortly.");
  if (status === 502 || status === 504) return MESSAGES.upstream;
  if (status === 400 && data && data.param === "invitation") return MESSAGES.invitation;
  if (status === 400 && data && data.param === "turnstileToken") return MESSAGES.botCheckMissing;
  // Anything else (a field of this page's own making such as successUrl or
  // workflowTemplateId, an unknown client or template, a 500) is not the
  // visitor's to correct.
  return MESSAGES.ours;
}

// showError puts the visitor's words beside the field the answer names
// (param), when this page shows that field, and in the status line
// otherwise. The answer as it came goes to the console, for developers.
function showError(status, data, retryAfter) {
  ready();
  console.warn("Verification endpoint answered " + status + ":", data ? JSON.stringify(data) : "(no JSON body)");
  const param = data && typeof data.param === "string" ? PARAM_ALIASES[data.param] || data.param : "";
  const input = param && document.querySelector('[data-param="' + CSS.escape(param) + '"]');
  const slot = param && document.querySelector('[data-error-for="' + CSS.escape(param) + '"]');
  if (status === 400 && FIELD_MESSAGES[param] && input && slot && input.offsetParent !== null) {
    slot.textContent = FIELD_MESSAGES[param];
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return;
  }
  showStatus(visitorMessage(status, data, retryAfter));
}

function showStatus(message) {
  ready();
  status.textContent = message;
  status.className = "status error";
  status.focus();
}

function requestBody() {
  const body = {
    successUrl: new URL("success.html", location.href).href,
    cancelUrl: new URL("cancel.html", location.href).href,
  };
  if (mode !== "invitation") {
    body.theme = document.querySelector('input[name="theme"]:checked').value;
    if (WORKFLOW_TEMPLATE_ID) body.workflowTemplateId = WORKFLOW_TEMPLATE_ID;
  }
  if (mode === "invitation") {
    body.invitation = invitation;
  } else if (mode === "request") {
    body.clientId = value("client-id");
  } else {
    const type = document.querySelector('input[name="client-type"]:checked').value;
    body.client = type === "company"
      ? { type, email: value("email"), companyDetails: { name: value("company-name") } }
      : { type, email: value("email"), personDetails: { firstName: value("first-name"), lastName: value("last-name") } };
    if (botCheck) body.turnstileToken = botToken;
  }
  return body;
}

// The success page (status.js) asks the API where this verification stands
// with the statusToken of the answer: it is kept for this tab, in
// sessionStorage, before the browser leaves for ComplyCube. A token of an
// earlier verification is dropped, so that it is never shown as this one.
const STATUS_TOKEN_KEY = "complycube.statusToken"; // the same key as in status.js

function keepStatusToken(token) {
  try {
    if (typeof token === "string" && token !== "") {
      sessionStorage.setItem(STATUS_TOKEN_KEY, token);
    } else {
      sessionStorage.removeItem(STATUS_TOKEN_KEY);
    }
  } catch (err) {
    // Storage is blocked (a privacy setting): the verification still works,
    // only the success page cannot tell how it went.
    console.warn("sessionStorage cannot be written, so the success page will not show the status: " + err);
  }
}

// failed shows an answer other than 200 (or none): the bot check's token
// may have been used, so the person completes the check again.
function failed(show) {
  resetBotCheck();
  show();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (submitting || button.disabled) return; // no token from the check yet, or no invitation
  clearErrors();
  submitting = true;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.querySelector(".label").textContent = "Starting verification…";

  let response;
  try {
    response = await fetch(ENDPOINT, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(requestBody()),
      referrerPolicy: "no-referrer",
    });
  } catch (err) {
    // fetch rejects without a status when the browser blocks the answer
    // (CORS) or cannot reach the endpoint at all.
    console.warn(
      "The browser could not reach " + ENDPOINT + ", or blocked its answer (CORS): " + err + ". " +
      "Check that this site's origin (" + location.origin + ") is in the endpoint's ALLOWED_ORIGINS."
    );
    failed(() => showStatus(MESSAGES.network));
    return;
  }

  let data = null;
  try {
    data = await response.json();
  } catch (_) {
    // not JSON: handled below
  }
  if (response.ok && data && typeof data.redirectUrl === "string") {
    keepStatusToken(data.statusToken);
    status.textContent = "Redirecting to the verification page…";
    status.className = "status ok";
    location.assign(data.redirectUrl);
    return;
  }
  if (mode === "invitation" && (response.status === 410 || (response.status === 400 && data && data.param === "invitation"))) {
    forgetInvitation();
  }
  failed(() => showError(response.status, data, response.headers.get("Retry-After")));
});

// A page that the back button brings back from ComplyCube's as it was left
// (the back/forward cache) still says "Redirecting" and holds a token the
// function has used: it starts afresh, with a new check.
window.addEventListener("pageshow", (event) => {
  if (!event.persisted) return;
  clearErrors();
  ready();
  resetBotCheck();
});
