// Package awsendpoint says which endpoint an AWS SDK service client of the
// functions will call, before the SDK's configuration is loaded, and how
// its certificate is verified: so that a connection can be made to it in
// advance, and its trusted roots parsed only as its chain needs them.
package awsendpoint

import (
	"crypto/tls"
	"net"
	"net/url"
	"strings"

	"github.com/complycube-session/createsession/internal/lambda/truststore"
)

// Of is the URL the SDK will call: AWS_ENDPOINT_URL_<envName> (or
// AWS_ENDPOINT_URL) when set, else the region's public endpoint; nil when
// it cannot be known before the SDK's configuration is loaded.
func Of(getenv func(string) string, envName, host string) *url.URL {
	for _, name := range []string{"AWS_ENDPOINT_URL_" + envName, "AWS_ENDPOINT_URL"} {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil
			}
			return u
		}
	}
	region := strings.TrimSpace(getenv("AWS_REGION"))
	if region == "" {
		region = strings.TrimSpace(getenv("AWS_DEFAULT_REGION"))
	}
	if region == "" || strings.ContainsAny(region, "/:@ ") {
		return nil
	}
	suffix := "amazonaws.com"
	if strings.HasPrefix(region, "cn-") {
		suffix = "amazonaws.com.cn"
	}
	return &url.URL{Scheme: "https", Host: host + "." + region + "." + suffix}
}

// CustomCABundle reports whether AWS_CA_BUNDLE names roots of its own:
// the SDK then sets up its HTTP client's roots itself, and a client of ours
// must not be given to it (LoadDefaultConfig refuses one it cannot
// rebuild, and its roots would not be ours).
func CustomCABundle(getenv func(string) string) bool {
	return strings.TrimSpace(getenv("AWS_CA_BUNDLE")) != ""
}

// TLSConfig is the client configuration for endpoint: TLS 1.2 at least,
// and the system's roots parsed only as a presented chain names them. The
// server name is set only for an IP address, which is never sent in SNI
// (a copy of the config made to reach it must still know what to verify);
// for a host name it is left to the host the SDK dials, which may differ
// from the one predicted here (FIPS and dual-stack endpoints).
func TLSConfig(endpoint *url.URL) *tls.Config {
	host := endpoint.Hostname()
	if net.ParseIP(host) == nil {
		host = ""
	}
	return truststore.ClientConfig(host, nil)
}
