// Package simulator is a local ComplyCube: it answers POST /v1/clients and
// POST /v1/flow/sessions as ComplyCube documents them (see shared
// COMPLYCUBE.md: the paths with and without the trailing slash the official
// Node SDK sends, the documented error bodies, 429 above a rate limit) and
// hosts a small verification page of its own, so the whole flow runs on one
// machine with no keys and no network. The dev server, the tests and the
// benchmark use it; internal/testonly/nodesdk checks it against
// ComplyCube's official Node SDK.
//
// The files follow its concerns: simulator.go (the type, its options and
// the routing), sessions.go, clients.go, errors.go (ComplyCube's documented
// error bodies), ratelimit.go, faults.go, hostedpage.go with page.html, and
// webhooks.go.
//
// # What it does not emulate
//
// A test that passes against the simulator says nothing about these:
//
//   - Persistence. Sessions and clients live in the process's memory and
//     are gone when it stops; at most 10,000 of each are kept, the oldest
//     forgotten first. Sessions do not end 14 days after they were created,
//     nor once completed: the same session can be completed or cancelled
//     again, and each time sends another webhook.
//   - Other endpoints. Only POST /v1/clients and POST /v1/flow/sessions are
//     served (with or without a trailing slash). Anything else under /v1/,
//     reading a client or a workflow session, checks, documents, webhook
//     registration, is 404 resource_not_found.
//   - Real verification. The hosted page asks for no document or photo and
//     runs no check. Complete always means status completed with outcome
//     clear, Cancel status cancelled; there is no attention or rejected
//     outcome and no started, processing or check.* events.
//   - What ComplyCube knows. Any clientId of 24 lowercase hex characters is
//     taken, whether or not this simulator created it (no 404 "Invalid
//     client id"); any workflowTemplateId of letters, digits, _ and - is
//     taken, with no active version to check; there are no 402, 403 (plan),
//     404 or 422 answers to a well-formed request.
//   - ComplyCube's exact validation. Fields are checked by the simulator's
//     own simpler rules (an e-mail address is a string with one @ not at an
//     end; a name any non-blank string of at most 254 bytes). mobile,
//     telephone, externalId and joinedDate are accepted but neither checked
//     nor kept. Besides the documented 401, 429 and 500 bodies and the
//     "'x' is required", "'x' is invalid" and "'x' is not allowed" of a
//     400, its messages (a body that is not JSON, 404, 405, 413) are its
//     own wording, as is its 64 KiB body limit.
//   - Keys and accounts. The keys given to New (DefaultKey when none) are
//     accepted and nothing else; there is no difference between sandbox and
//     live keys and no account, plan or monthly check quota.
//   - Rate limiting as ComplyCube counts it. One token bucket per Simulator
//     value, so per process, shared by both endpoints and every key; it is
//     off unless SetRateLimit is called (the dev server sets 5 a second).
//   - Webhooks as ComplyCube sends them. One webhook URL and secret for the
//     whole simulator (SetWebhook), no registration API, http allowed where
//     ComplyCube requires https; each event is sent once, during the
//     browser's POST and before its redirect, and never retried (ComplyCube
//     retries up to 10 times and then disables the webhook). Only
//     workflow.session.completed and workflow.session.cancelled are sent,
//     whose names are not confirmed against ComplyCube's own reference;
//     the payload holds only id, clientId, workflowTemplateId, status and
//     outcome.
//   - IDs and URLs. Client IDs are 24 random lowercase hex characters (the
//     form of ComplyCube's IDs, not the way it makes them); session tokens are
//     "test_" and 24 hex (10 with shortUrl), whatever the key; event IDs
//     are "evt_" and 24 hex, the simulator's own form. redirectUrl points
//     at the simulator's own address (/session/{token}?theme=...), not at
//     id.complycube.com, and shortUrl only shortens the token.
//   - Failures. ComplyCube fails only when told to: SetFaults injects
//     connection resets, 500s and slow answers at the rate asked, not as
//     the real service fails. It serves plain HTTP, no TLS.
package simulator
