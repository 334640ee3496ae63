// Package webhookapp wires the webhook function from its configuration:
// the secret, the SNS topic and the receiver. It stands apart from app so
// that the create-session bootstrap links neither the webhook core nor the
// SNS client.
package webhookapp

import (
	"context"
	"log/slog"

	"github.com/complycube-session/createsession/handler/webhook"
	"github.com/complycube-session/createsession/internal/lambda/apigateway"
	"github.com/complycube-session/createsession/internal/lambda/app"
	"github.com/complycube-session/createsession/internal/lambda/secret"
	"github.com/complycube-session/createsession/internal/lambda/snstopic"
)

// Build reads the secret once (a failure is logged, not fatal: the
// function answers 503 and reads again) and returns the webhook function
// as the Lambda runtime calls it, publishing through publisher (the SNS
// topic on Lambda, a log line in the dev server).
func Build(ctx context.Context, cfg webhook.Config, publisher webhook.Publisher, log *slog.Logger) apigateway.Lambda {
	var fetcher secret.Fetcher = secret.Static{WebhookSecret: cfg.WebhookSecret}
	if cfg.SecretID != "" {
		fetcher = app.SecretsManagerFetcher(cfg.SecretID)
	}
	secrets := secret.NewCache(fetcher, secret.WithFetchTimeout(app.InitKeyTimeout))
	if err := secrets.Load(ctx); err != nil {
		log.Error("the webhook secret could not be read at start; answering 503 until a later read succeeds", slog.String("cause", err.Error()))
	}
	return apigateway.Lambda{Handler: webhook.New(secrets, publisher, log, cfg.FunctionName), Log: log, MaxBody: webhook.MaxBodyBytes}
}

// FromEnv reads the webhook function's configuration through getenv and
// builds it, publishing to the configured SNS topic. A configuration error
// is logged, naming its variable, and returned.
func FromEnv(ctx context.Context, getenv func(string) string, log *slog.Logger) (apigateway.Lambda, error) {
	cfg, err := webhook.LoadConfig(getenv, false)
	if err != nil {
		app.LogStartError(log, err)
		return apigateway.Lambda{}, err
	}
	return Build(ctx, cfg, snstopic.New(cfg.TopicARN, nil), log), nil
}

// The adapters implement the webhook core's ports.
var (
	_ webhook.SecretSource = (*secret.Cache)(nil)
	_ webhook.Publisher    = (*snstopic.Topic)(nil)
)
