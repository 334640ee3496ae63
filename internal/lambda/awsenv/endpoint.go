package awsenv

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/url"
	"strings"

	"github.com/complycube-session/createsession/internal/lambda/truststore"
)

// Endpoint is the URL a service client built from Load's configuration
// calls: AWS_ENDPOINT_URL_<envName> (or AWS_ENDPOINT_URL) when set, else
// the region's public endpoint; nil when it cannot be known for sure (no
// region; FIPS or dual-stack endpoints, whose host names differ by
// service; the isolated and sovereign partitions), and then nothing is
// dialled in advance. envName is the service's part of the variable
// (DYNAMODB, SNS, SECRETS_MANAGER), host its endpoint prefix (dynamodb,
// sns, secretsmanager).
func Endpoint(getenv func(string) string, envName, host string) *url.URL {
	if !ignoreConfiguredEndpoints(getenv) {
		for _, name := range []string{envEndpointURL + "_" + envName, envEndpointURL} {
			if v := strings.TrimSpace(getenv(name)); v != "" {
				u, err := url.Parse(v)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return nil
				}
				return u
			}
		}
	}
	region := Region(getenv)
	if region == "" || strings.ContainsAny(region, "/:@ ") ||
		strings.HasPrefix(region, "us-iso") || strings.HasPrefix(region, "eusc-") {
		return nil
	}
	for _, name := range []string{EnvUseFIPS, EnvUseDualStack} {
		if on, _, _ := boolVar(getenv, name); on {
			return nil
		}
	}
	suffix := "amazonaws.com"
	if strings.HasPrefix(region, "cn-") {
		suffix = "amazonaws.com.cn"
	}
	return &url.URL{Scheme: "https", Host: host + "." + region + "." + suffix}
}

// tlsConfig is the client configuration for endpoint: TLS 1.2 at least,
// and the system's roots parsed only as a presented chain names them
// (truststore), or rootCAs (AWS_CA_BUNDLE's) when not nil. The server name
// is set only for an IP address, which is never sent in SNI (a copy of the
// config made to reach it must still know what to verify); for a host name
// it is left to the host the SDK dials, which may differ from the one
// predicted here (FIPS and dual-stack endpoints).
func tlsConfig(endpoint *url.URL, rootCAs *x509.CertPool) *tls.Config {
	host := ""
	if endpoint != nil && net.ParseIP(endpoint.Hostname()) != nil {
		host = endpoint.Hostname()
	}
	return truststore.ClientConfig(host, rootCAs)
}
