// Drives ComplyCube's official Node SDK against the simulator at SIM_URL and
// prints, as one JSON object, what the SDK handed its caller. The Go test
// (../sdk_test.go) checks the result and what the simulator received.
"use strict";
const { ComplyCube, ComplyCubeApiError } = require("@complycube/api");

function sdk(apiKey) {
  const cc = new ComplyCube({ apiKey });
  // The SDK's base URL is fixed; this is the one way to point it elsewhere.
  cc.axiosInstance.defaults.baseURL = process.env.SIM_URL + "/v1";
  return cc;
}

function failure(err) {
  if (!(err instanceof ComplyCubeApiError)) {
    return { unexpected: String(err) };
  }
  return { statusCode: err.statusCode, type: err.type, param: err.param === undefined ? null : err.param, message: err.message };
}

async function main() {
  const cc = sdk(process.env.API_KEY);
  const out = {};
  const client = await cc.client.create({
    type: "person",
    email: "sdk.check@example.com",
    personDetails: { firstName: "Sdk", lastName: "Check" },
  });
  out.client = { id: client.id, type: client.type, email: client.email };
  const session = await cc.flow.createSession(client.id, {
    workflowTemplateId: "wt_sdk",
    successUrl: "https://www.example.com/done",
    cancelUrl: "https://www.example.com/cancel",
    theme: "dark",
  });
  out.session = { redirectUrl: session.redirectUrl };
  try {
    await cc.flow.createSession("123456789", {
      workflowTemplateId: "wt_sdk",
      successUrl: "https://www.example.com/done",
      cancelUrl: "https://www.example.com/cancel",
    });
    out.badRequest = { unexpected: "no error" };
  } catch (err) {
    out.badRequest = failure(err);
  }
  try {
    await sdk("test_not_the_key").client.create({ type: "person", email: "x@example.com", personDetails: { firstName: "X", lastName: "Y" } });
    out.unauthorized = { unexpected: "no error" };
  } catch (err) {
    out.unauthorized = failure(err);
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((err) => {
  process.stderr.write("check.js: " + (err && err.stack || err) + "\n");
  process.exit(1);
});
