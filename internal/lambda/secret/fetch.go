package secret

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Static is a Fetcher for a secret given in the environment (local runs).
type Static Secret

// Fetch returns the secret.
func (s Static) Fetch(context.Context) (Secret, error) {
	if Secret(s) == (Secret{}) {
		return Secret{}, errors.New("no key is configured")
	}
	return Secret(s), nil
}

// GetSecretValueAPI is the one Secrets Manager call the function makes.
type GetSecretValueAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// SecretsManager reads the secret from one Secrets Manager secret.
type SecretsManager struct {
	Client   GetSecretValueAPI
	SecretID string
}

// Fetch reads the secret's current version and parses it.
func (s SecretsManager) Fetch(ctx context.Context) (Secret, error) {
	out, err := s.Client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &s.SecretID})
	if err != nil {
		return Secret{}, fmt.Errorf("read secret %s: %w", s.SecretID, err)
	}
	if out.SecretString == nil {
		return Secret{}, fmt.Errorf("read secret %s: it has no SecretString (binary secrets are not supported)", s.SecretID)
	}
	sec, err := Parse(*out.SecretString)
	if err != nil {
		return Secret{}, fmt.Errorf("read secret %s: %w", s.SecretID, err)
	}
	return sec, nil
}

// Parse reads a SecretString: either the bare API key, or a JSON object
// whose "apiKey" field holds it, with optional "invitationKey",
// "webhookSecret" and "turnstileSecretKey" strings beside it. Errors never quote the secret.
func Parse(secretString string) (Secret, error) {
	s := strings.TrimSpace(secretString)
	if s == "" {
		return Secret{}, errors.New("secret is empty")
	}
	if !strings.HasPrefix(s, "{") {
		if strings.ContainsAny(s, " \t\r\n\"") {
			return Secret{}, errors.New("secret is neither a bare key nor a JSON object")
		}
		return Secret{APIKey: s}, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &obj); err != nil {
		return Secret{}, errors.New("secret starts with '{' but is not a JSON object")
	}
	var sec Secret
	for _, f := range []struct {
		name     string
		into     *string
		required bool
	}{{"apiKey", &sec.APIKey, true}, {"invitationKey", &sec.InvitationKey, false}, {"webhookSecret", &sec.WebhookSecret, false}, {"turnstileSecretKey", &sec.TurnstileSecretKey, false}} {
		raw, ok := obj[f.name]
		if !ok {
			if f.required {
				return Secret{}, fmt.Errorf(`secret JSON has no %q field`, f.name)
			}
			continue
		}
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			return Secret{}, fmt.Errorf(`secret JSON %q is not a string`, f.name)
		}
		v = strings.TrimSpace(v)
		if v == "" {
			return Secret{}, fmt.Errorf(`secret JSON %q is empty`, f.name)
		}
		if strings.ContainsAny(v, " \t\r\n") {
			return Secret{}, fmt.Errorf(`secret JSON %q contains white space`, f.name)
		}
		*f.into = v
	}
	return sec, nil
}
