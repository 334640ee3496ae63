package secret

import (
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// NewSecretsManager reads the secret secretID with a Secrets Manager client
// built from cfg (internal/lambda/awsenv's on Lambda, the SDK's default
// chain for cmd/invite), sending over httpClient when it is not nil.
func NewSecretsManager(cfg aws.Config, httpClient *http.Client, secretID string) SecretsManager {
	client := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		if httpClient != nil {
			o.HTTPClient = httpClient
		}
	})
	return SecretsManager{Client: client, SecretID: secretID}
}
