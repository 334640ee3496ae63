package secret

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Static is a Fetcher for a key given in the environment (local runs).
type Static string

// FetchKey returns the key.
func (s Static) FetchKey(context.Context) (string, error) {
	if s == "" {
		return "", errors.New("api key is empty")
	}
	return string(s), nil
}

// GetSecretValueAPI is the one Secrets Manager call the function makes.
type GetSecretValueAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// SecretsManager reads the key from one secret.
type SecretsManager struct {
	Client   GetSecretValueAPI
	SecretID string
}

// FetchKey reads the secret's current version and extracts the key.
func (s SecretsManager) FetchKey(ctx context.Context) (string, error) {
	out, err := s.Client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &s.SecretID})
	if err != nil {
		return "", fmt.Errorf("read secret %s: %w", s.SecretID, err)
	}
	if out.SecretString == nil {
		return "", fmt.Errorf("read secret %s: it has no SecretString (binary secrets are not supported)", s.SecretID)
	}
	key, err := ParseKey(*out.SecretString)
	if err != nil {
		return "", fmt.Errorf("read secret %s: %w", s.SecretID, err)
	}
	return key, nil
}

// ParseKey extracts the key from a SecretString: either the bare key, or a
// JSON object whose "apiKey" field holds it. Errors never quote the secret.
func ParseKey(secretString string) (string, error) {
	s := strings.TrimSpace(secretString)
	if s == "" {
		return "", errors.New("secret is empty")
	}
	if !strings.HasPrefix(s, "{") {
		if strings.ContainsAny(s, " \t\r\n\"") {
			return "", errors.New("secret is neither a bare key nor a JSON object")
		}
		return s, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &obj); err != nil {
		return "", errors.New("secret starts with '{' but is not a JSON object")
	}
	raw, ok := obj["apiKey"]
	if !ok {
		return "", errors.New(`secret JSON has no "apiKey" field`)
	}
	var key string
	if err := json.Unmarshal(raw, &key); err != nil {
		return "", errors.New(`secret JSON "apiKey" is not a string`)
	}
	key = strings.TrimSpace(key)
	if key == "" {
		return "", errors.New(`secret JSON "apiKey" is empty`)
	}
	if strings.ContainsAny(key, " \t\r\n") {
		return "", errors.New(`secret JSON "apiKey" contains white space`)
	}
	return key, nil
}
