package startup

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"os"

	"github.com/complycube-session/createsession/internal/lambda/awsendpoint"
	"github.com/complycube-session/createsession/internal/lambda/warmconn"
)

// WarmAWSClient returns the HTTP client an AWS SDK service client should
// use, with a connection to the service's endpoint opened now, in the
// background, so that the first request that needs the service does not
// pay for TCP and TLS at a fraction of a CPU, and verifying the service's
// certificate parses only the roots its chain names (truststore). envName is the service's
// part of AWS_ENDPOINT_URL_<envName> (DYNAMODB, SNS), host its endpoint
// prefix (dynamodb, sns). Without an endpoint it can know before the SDK's
// configuration is loaded, nothing is dialled in advance.
//
// With AWS_CA_BUNDLE set it returns nil, the SDK's own client: the SDK then
// sets up the roots itself.
func WarmAWSClient(ctx context.Context, log *slog.Logger, envName, host string) *http.Client {
	if awsendpoint.CustomCABundle(os.Getenv) {
		return nil
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	transport.MaxIdleConnsPerHost = 16
	if endpoint := awsendpoint.Of(os.Getenv, envName, host); endpoint != nil {
		transport.TLSClientConfig = awsendpoint.TLSConfig(endpoint)
		d := warmconn.New(endpoint, transport.TLSClientConfig)
		d.Install(transport)
		Prewarm(ctx, log, host, d.Start)
	}
	return &http.Client{Transport: transport}
}
