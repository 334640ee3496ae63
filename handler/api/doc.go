// Package api is what the functions' cores share and nothing else: the
// transport-neutral request and answer, the error shape every function
// answers with, and the record of one request that each core hands to its
// log port. It knows nothing of API Gateway, HTTP servers or AWS; the
// adapters in internal/lambda and internal/local translate to and from it.
package api
