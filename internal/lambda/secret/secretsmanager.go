package secret

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/complycube-session/createsession/internal/lambda/awsendpoint"
)

// NewSecretsManagerFetcher reads the secret secretID from Secrets Manager
// with the AWS SDK's default configuration (the function's role on Lambda,
// the caller's credentials for cmd/invite).
func NewSecretsManagerFetcher(secretID string) Fetcher {
	return &lazySecretsManager{secretID: secretID}
}

// lazySecretsManager builds the SDK client on first use, inside the bounded
// read, so that a slow credential or region lookup counts against the same
// timeout as the read itself.
type lazySecretsManager struct {
	secretID string
	reader   *SecretsManager
}

func (l *lazySecretsManager) Fetch(ctx context.Context) (Secret, error) {
	if l.reader == nil {
		var opts []func(*config.LoadOptions) error
		if !awsendpoint.CustomCABundle(os.Getenv) {
			opts = append(opts, config.WithHTTPClient(httpClient()))
		}
		awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return Secret{}, fmt.Errorf("load AWS configuration: %w", err)
		}
		l.reader = &SecretsManager{Client: secretsmanager.NewFromConfig(awsCfg), SecretID: l.secretID}
	}
	return l.reader.Fetch(ctx)
}

// httpClient carries Secrets Manager's requests: TLS 1.2 at least, and the
// service's certificate verified with the roots its chain names, parsed
// then (truststore), not all of them up front.
func httpClient() *http.Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if endpoint := awsendpoint.Of(os.Getenv, "SECRETS_MANAGER", "secretsmanager"); endpoint != nil {
		transport.TLSClientConfig = awsendpoint.TLSConfig(endpoint)
	}
	return &http.Client{Transport: transport}
}
