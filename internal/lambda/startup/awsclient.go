package startup

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/complycube-session/createsession/internal/lambda/warmconn"
)

// WarmAWSClient returns the HTTP client an AWS SDK service client should
// use, with a connection to the service's endpoint opened now, in the
// background, so that the first request that needs the service does not
// pay for TCP and TLS at a fraction of a CPU. envName is the service's
// part of AWS_ENDPOINT_URL_<envName> (DYNAMODB, SNS), host its endpoint
// prefix (dynamodb, sns). Without an endpoint it can know before the SDK's
// configuration is loaded, nothing is dialled in advance.
func WarmAWSClient(ctx context.Context, log *slog.Logger, envName, host string) *http.Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	transport.MaxIdleConnsPerHost = 16
	if endpoint := awsEndpoint(os.Getenv, envName, host); endpoint != nil {
		d := warmconn.New(endpoint, transport.TLSClientConfig)
		d.Install(transport)
		Prewarm(ctx, log, host, d.Start)
	}
	return &http.Client{Transport: transport}
}

// awsEndpoint is the URL the SDK will call: AWS_ENDPOINT_URL_<envName> (or
// AWS_ENDPOINT_URL) when set, else the region's public endpoint; nil when
// it cannot be known before the SDK's configuration is loaded.
func awsEndpoint(getenv func(string) string, envName, host string) *url.URL {
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
