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

// showError puts the message beside its field when the answer names one
// (param) that this page shows, and in the status line otherwise.
function showError(message, param) {
  ready();
  const input = param && document.querySelector('[data-param="' + CSS.escape(param) + '"]');
  const slot = param && document.querySelector('[data-error-for="' + CSS.escape(param) + '"]');
  if (input && slot && input.offsetParent !== null) {
    slot.textContent = message;
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return;
  }
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
    showError(
      "The browser could not reach the verification service, or blocked its answer (CORS). " +
      "Check that this site's origin (" + location.origin + ") is in the endpoint's ALLOWED_ORIGINS."
    );
    return;
  }

  let data = null;
  try {
    data = await response.json();
  } catch (_) {
    // not JSON: handled below
  }
  if (response.ok && data && typeof data.redirectUrl === "string") {
    status.textContent = "Redirecting to the verification page…";
    status.className = "status ok";
    location.assign(data.redirectUrl);
    return;
  }
  const message = data && typeof data.message === "string"
    ? data.message
    : "The verification service answered with status " + response.status + ".";
  showError(message, data && typeof data.param === "string" ? data.param : "");
});
