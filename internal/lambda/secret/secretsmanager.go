package secret

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
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
		awsCfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return Secret{}, fmt.Errorf("load AWS configuration: %w", err)
		}
		l.reader = &SecretsManager{Client: secretsmanager.NewFromConfig(awsCfg), SecretID: l.secretID}
	}
	return l.reader.Fetch(ctx)
}
