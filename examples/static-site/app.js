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

// The ComplyCube workflow template to run. Leave it empty when the function
// is configured with WORKFLOW_TEMPLATE_IDS (the first one is the default).
const WORKFLOW_TEMPLATE_ID = "wt_example";

const form = document.getElementById("verify-form");
const button = document.getElementById("verify");
const status = document.getElementById("status");
const invitation = new URLSearchParams(location.search).get("invitation");
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
  button.disabled = !invitation;
}
button.querySelector(".label").textContent = buttonLabel;
for (const radio of document.querySelectorAll('input[name="client-type"]')) {
  radio.addEventListener("change", () => {
    const company = document.querySelector('input[name="client-type"]:checked').value === "company";
    document.getElementById("person-fields").hidden = company;
    document.getElementById("company-fields").hidden = !company;
  });
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
  button.disabled = false;
  button.removeAttribute("aria-busy");
  button.querySelector(".label").textContent = buttonLabel;
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
  botCheck: "We could not confirm that you are a person and not a program. Please reload the page and try again.",
  botCheckMissing: "Please complete the check that you are a person, then try again.",
  unavailable: "The verification service is not available right now. Please try again shortly.",
  upstream: "The verification service is not answering right now. Please try again in a few minutes.",
  ours: "Something went wrong on our side, and the verification could not start. Please try again later.",
  network: "We could not reach the verification service. Please check your internet connection and try again.",
};

// retryIn says "1 minute", "5 minutes" or "3 hours" for a Retry-After
// header (seconds or an HTTP date), or "" when there is none to read. A
// browser lets a page read Retry-After from another origin only when the
// answer lists it in Access-Control-Expose-Headers.
function retryIn(header) {
  if (!header) return "";
  const seconds = /^\d+$/.test(header.trim()) ? Number(header) : (Date.parse(header) - Date.now()) / 1000;
  if (!Number.isFinite(seconds)) return "";
  const minutes = Math.max(1, Math.ceil(seconds / 60));
  if (minutes < 120) return minutes === 1 ? "1 minute" : minutes + " minutes";
  return Math.ceil(minutes / 60) + " hours";
}

// visitorMessage turns an error answer into words for the visitor; the
// answer itself goes to the developer console.
function visitorMessage(status, data, retryAfter) {
  const type = data && data.type;
  if (status === 429) {
    const wait = retryIn(retryAfter);
    return wait
      ? "Too many attempts. Please try again in " + wait + "."
      : "Too many attempts. Please wait a few minutes, then try again.";
  }
  if (type === "bot_check_failed") return MESSAGES.botCheck;
  if (status === 410 || type === "invitation_used_up") return MESSAGES.invitationUsedUp;
  if (status === 503) return MESSAGES.unavailable;
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

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors();
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.querySelector(".label").textContent = "Starting verification…";

  let response;
  try {
    response = await fetch(ENDPOINT, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(requestBody()),
    });
  } catch (err) {
    // fetch rejects without a status when the browser blocks the answer
    // (CORS) or cannot reach the endpoint at all.
    console.warn(
      "The browser could not reach " + ENDPOINT + ", or blocked its answer (CORS): " + err + ". " +
      "Check that this site's origin (" + location.origin + ") is in the endpoint's ALLOWED_ORIGINS."
    );
    showStatus(MESSAGES.network);
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
  showError(response.status, data, response.headers.get("Retry-After"));
});
