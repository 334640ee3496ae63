package truststore_test

import (
	"crypto/tls"
	"net/http"

	"github.com/complycube-session/createsession/internal/lambda/truststore"
)

// An HTTP client that verifies servers against the system's roots, parsing
// only those the servers' chains name.
func ExampleStore_TLSConfig() {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = truststore.System().TLSConfig(&tls.Config{MinVersion: tls.VersionTLS12})
	client := &http.Client{Transport: t}
	_ = client
}
