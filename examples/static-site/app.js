const ENDPOINT = "http://127.0.0.1:3000/sessions";
// ^ The one line to change: the full URL of your deployed endpoint (the
//   "SessionsEndpoint" output of `sam deploy`). The dev server rewrites it to
//   its own address when it serves this file.

// The ComplyCube workflow template to run. Leave it empty when the function
// is configured with WORKFLOW_TEMPLATE_IDS (the first one is the default).
const WORKFLOW_TEMPLATE_ID = "wt_example";

const form = document.getElementById("verify-form");
const button = document.getElementById("verify");
const status = document.getElementById("status");

function showError(message) {
  status.textContent = message;
  status.className = "status error";
  button.disabled = false;
  button.removeAttribute("aria-busy");
  button.querySelector(".label").textContent = "Verify identity";
  status.focus();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const clientId = document.getElementById("client-id").value.trim();
  const theme = document.querySelector('input[name="theme"]:checked').value;
  const body = {
    clientId,
    successUrl: new URL("success.html", location.href).href,
    cancelUrl: new URL("cancel.html", location.href).href,
    theme,
  };
  if (WORKFLOW_TEMPLATE_ID) body.workflowTemplateId = WORKFLOW_TEMPLATE_ID;

  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.querySelector(".label").textContent = "Starting verification…";
  status.textContent = "";
  status.className = "status";

  let response;
  try {
    response = await fetch(ENDPOINT, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
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
  showError(message);
});
