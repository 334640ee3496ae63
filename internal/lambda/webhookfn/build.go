// Package webhookfn is the webhook function's wiring: it reads the
// configuration from the environment and builds the receiver from the core
// (handler/webhook) and its adapters (the secret, the SNS topic, the log
// line). It stands apart from sessionfn so that the create-session
// bootstrap links neither the webhook core nor the SNS client.
package webhookfn

import (
	"context"
	"errors"
	"log/slog"

	"github.com/complycube-session/createsession/handler/api"
	"github.com/complycube-session/createsession/handler/state"
	"github.com/complycube-session/createsession/handler/webhook"
	"github.com/complycube-session/createsession/internal/lambda/apigateway"
	"github.com/complycube-session/createsession/internal/lambda/awsenv"
	"github.com/complycube-session/createsession/internal/lambda/emf"
	"github.com/complycube-session/createsession/internal/lambda/secret"
	"github.com/complycube-session/createsession/internal/lambda/snstopic"
	"github.com/complycube-session/createsession/internal/lambda/startup"
	"github.com/complycube-session/createsession/internal/lambda/statestore"
)

// Build reads the secret once (a failure is logged, not fatal: the
// function answers 503 and reads again) and returns the webhook function
// as the Lambda runtime calls it, publishing through publisher (nil: the
// SNS topic cfg names; a log line in the dev server), claiming events and
// recording statuses in store (nil: the one cfg names, statestore.Open).
// requests, when nil, are written to log as JSON lines with embedded
// metrics.
func Build(ctx context.Context, cfg Config, publisher webhook.Publisher, store state.Store, log *slog.Logger, requests api.RequestLog) (apigateway.Lambda, error) {
	// Checked before the secret's read starts: a function that cannot
	// start must not wait for it, nor pay for it.
	noAWS := errors.New("is set, but no AWS configuration was read")
	switch {
	case cfg.AWS != nil:
	case cfg.SecretID != "":
		return apigateway.Lambda{}, &startup.ConfigError{Variable: startup.EnvSecretID, Err: noAWS}
	case store == nil && cfg.StateTable != "":
		return apigateway.Lambda{}, &startup.ConfigError{Variable: statestore.EnvStateTable, Err: noAWS}
	case publisher == nil:
		return apigateway.Lambda{}, &startup.ConfigError{Variable: EnvTopicARN, Err: errors.New("no publisher, and no AWS configuration to reach the topic with")}
	}
	var fetcher secret.Fetcher = secret.Static{WebhookSecret: cfg.WebhookSecret}
	if cfg.SecretID != "" {
		fetcher = secret.NewSecretsManager(cfg.AWS.Config, cfg.AWS.HTTPClient("SECRETS_MANAGER", "secretsmanager"), cfg.SecretID)
	}
	secrets := secret.NewCache(fetcher, secret.WithFetchTimeout(startup.InitSecretTimeout))
	// The secret's read is what init waits for: it starts first, and the
	// connections to DynamoDB and SNS are made while it waits.
	secretRead := startup.StartFirst(func() error { return secrets.Load(ctx) })
	if store == nil {
		var err error
		if store, err = statestore.Open(ctx, cfg.AWS, cfg.StateTable, log, "the webhook function (events told exactly once, each client's status)"); err != nil {
			secretRead() // checked above: not reached
			return apigateway.Lambda{}, err
		}
	}
	if publisher == nil {
		publisher = snstopic.New(cfg.TopicARN, snstopic.NewClient(cfg.AWS.Config, cfg.AWS.WarmHTTPClient(ctx, log, "SNS", "sns")))
	}
	startup.PreloadTrustStore()
	if err := secretRead(); err != nil {
		log.Error("the webhook secret could not be read at start; answering 503 until a later read succeeds", slog.String("cause", err.Error()))
	}
	if requests == nil {
		requests = emf.New(log, cfg.FunctionName, secrets.LoadedHashKey)
	}
	return apigateway.Lambda{Handler: webhook.New(secrets, publisher, store, requests), Log: log, MaxBody: webhook.MaxBodyBytes}, nil
}

// FromEnv reads the webhook function's configuration through getenv and
// builds it, publishing to the configured SNS topic. A configuration error
// is logged, naming its variable, and returned.
func FromEnv(ctx context.Context, getenv func(string) string, log *slog.Logger) (apigateway.Lambda, error) {
	cfg, err := LoadConfig(getenv, false)
	if err == nil {
		// The topic is required here, so AWS is always needed.
		cfg.AWS, err = awsenv.Load(getenv)
	}
	var fn apigateway.Lambda
	if err == nil {
		fn, err = Build(ctx, cfg, nil, nil, log, nil)
	}
	if err != nil {
		startup.LogError(log, err)
		return apigateway.Lambda{}, err
	}
	return fn, nil
}

// The adapters implement the webhook core's ports.
var (
	_ webhook.SecretSource = (*secret.Cache)(nil)
	_ webhook.Publisher    = (*snstopic.Topic)(nil)
)
