// Package outbound is what the functions' outbound clients share: the HTTP
// transport of every one (ComplyCube's, Turnstile's, the AWS services'),
// and the retry pause and error cause of the two written here (ComplyCube's
// and Turnstile's; the AWS SDK retries on its own).
package outbound

import (
	"crypto/tls"
	"net/http"
	"time"
)

// Transport returns a transport that speaks HTTP/1.1 only, keeps idle
// connections for 90 s, and uses tlsConfig (truststore.ClientConfig's).
//
// Not HTTP/2: a Lambda instance handles one request at a time, so
// HTTP/2's many streams on one connection buy it nothing, while its
// frames, settings and extra goroutines cost CPU on the first call, paid at
// a fraction of a core in a cold start (BENCHMARKS.md, "What each outbound
// connection costs"). Calls are bounded by their contexts; the
// handshake's own timeout only backs that up (a connection made in advance
// by warmconn is bounded by its own context instead).
func Transport(tlsConfig *tls.Config) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Protocols = new(http.Protocols)
	t.Protocols.SetHTTP1(true)
	t.ForceAttemptHTTP2 = false
	t.TLSClientConfig = tlsConfig
	// Few connections per server on Lambda; the dev server shares one
	// client between concurrent requests.
	t.MaxIdleConnsPerHost = 16
	t.IdleConnTimeout = 90 * time.Second
	t.TLSHandshakeTimeout = 5 * time.Second
	t.ResponseHeaderTimeout = 0
	return t
}
