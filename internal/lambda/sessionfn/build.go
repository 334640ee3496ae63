// Package sessionfn is the create-session function's wiring: it reads the
// configuration from the environment and builds the function from the
// core (handler) and its adapters (the secret's cache, the ComplyCube
// client, the log line, the API Gateway events). The Lambda bootstrap and
// the dev server both use it, so they cannot drift apart.
package sessionfn

import (
	"context"
	"errors"
	"log/slog"

	"github.com/complycube-session/createsession/handler"
	"github.com/complycube-session/createsession/handler/api"
	"github.com/complycube-session/createsession/handler/state"
	"github.com/complycube-session/createsession/internal/lambda/apigateway"
	"github.com/complycube-session/createsession/internal/lambda/awsenv"
	"github.com/complycube-session/createsession/internal/lambda/complycube"
	"github.com/complycube-session/createsession/internal/lambda/emf"
	"github.com/complycube-session/createsession/internal/lambda/secret"
	"github.com/complycube-session/createsession/internal/lambda/startup"
	"github.com/complycube-session/createsession/internal/lambda/statestore"
	"github.com/complycube-session/createsession/internal/lambda/turnstile"
)

// Build logs the configuration's warnings, reads the secret once (a
// failure is logged, not fatal) while it connects to ComplyCube (and
// Turnstile, and DynamoDB) in advance, and returns the function as the
// Lambda runtime calls it. cfg must hold a secret ID or an API key. store
// is the shared state; nil opens the one cfg names (statestore.Open). log
// takes the start-up lines; requests, when nil, are written to it as JSON
// lines with embedded metrics.
func Build(ctx context.Context, cfg Config, store state.Store, log *slog.Logger, requests api.RequestLog) (apigateway.Lambda, error) {
	// No x509.SystemCertPool: every client verifies with truststore, which
	// parses only the roots a presented chain names.
	cannotStart := func(err error) (apigateway.Lambda, error) {
		startup.LogWarnings(log, cfg.Warnings)
		return apigateway.Lambda{}, err
	}
	noAWS := errors.New("is set, but no AWS configuration was read")
	var fetcher secret.Fetcher
	switch {
	case cfg.SecretID != "" && cfg.AWS == nil:
		return cannotStart(&startup.ConfigError{Variable: startup.EnvSecretID, Err: noAWS})
	case cfg.SecretID != "":
		fetcher = secret.NewSecretsManager(cfg.AWS.Config, cfg.AWS.HTTPClient("SECRETS_MANAGER", "secretsmanager"), cfg.SecretID)
	case cfg.APIKey != "":
		fetcher = secret.Static{APIKey: cfg.APIKey, InvitationKey: cfg.InvitationKey, WebhookSecret: cfg.WebhookSecret, TurnstileSecretKey: cfg.TurnstileSecretKey}
	default:
		return cannotStart(&startup.ConfigError{Variable: startup.EnvSecretID, Err: errors.New("is required (or " + startup.EnvAPIKey + " for local runs)")})
	}
	if store == nil && cfg.StateTable != "" && cfg.AWS == nil {
		return cannotStart(&startup.ConfigError{Variable: statestore.EnvStateTable, Err: noAWS})
	}
	client, err := complycube.New(complycube.Config{BaseURL: cfg.BaseURL, Timeout: cfg.UpstreamTimeout})
	if err != nil {
		return cannotStart(&startup.ConfigError{Variable: EnvBaseURL, Err: err})
	}
	keys := secret.NewCache(fetcher, secret.WithFetchTimeout(startup.InitSecretTimeout))
	var bots handler.BotCheck
	var botsClient *turnstile.Client
	if cfg.BotCheck {
		if botsClient, err = turnstile.New(turnstile.Config{VerifyURL: cfg.TurnstileVerifyURL, SecretKey: keys.TurnstileSecretKey, RefreshSecretKey: keys.RefreshTurnstileSecretKey}); err != nil {
			return cannotStart(&startup.ConfigError{Variable: EnvTurnstileVerifyURL, Err: err})
		}
		bots = botsClient
	}

	// The secret's read (TCP, TLS, the call: three round trips) is what
	// init waits for, so it starts first, and the other connections are
	// made while it waits: a cold start then waits for the slowest, not
	// for all in turn. Init does not wait for them: the first request
	// takes each over, waiting for its handshake only if it is still under
	// way, so a slow or unreachable server never lengthens init (and its
	// billed time).
	secretRead := startup.StartFirst(func() error { return keys.Load(ctx) })
	if store == nil {
		need := ""
		if cfg.ClientSource != handler.SourceRequest {
			need = "the create-session function (sign-up limits, invitation counts, status tokens)"
		}
		if store, err = statestore.Open(ctx, cfg.AWS, cfg.StateTable, log, need); err != nil {
			secretRead() // checked above: not reached
			return cannotStart(err)
		}
	}
	startup.Prewarm(ctx, log, "ComplyCube", client.Prewarm)
	if botsClient != nil {
		// Turnstile's siteverify too: a sign-up asks it first.
		startup.Prewarm(ctx, log, "Turnstile", botsClient.Prewarm)
	}
	startup.PreloadTrustStore()
	// Written while the secret is read (a first log line costs slog's
	// first use).
	startup.LogWarnings(log, cfg.Warnings)
	if err := secretRead(); err != nil {
		log.Error("the API key could not be read at start; answering 503 until a later read succeeds", slog.String("cause", err.Error()))
	}
	if requests == nil {
		requests = emf.New(log, cfg.FunctionName, keys.LoadedHashKey)
	}
	return apigateway.Lambda{Handler: handler.NewSessionStarter(cfg.Config, keys, client, store, bots, requests), Log: log, MaxBody: handler.MaxBodyBytes}, nil
}

// The adapters implement the core's ports.
var (
	_ handler.Secrets    = (*secret.Cache)(nil)
	_ handler.ComplyCube = (*complycube.Client)(nil)
	_ handler.BotCheck   = (*turnstile.Client)(nil)
	_ api.RequestLog     = (*emf.Log)(nil)
)

// FromEnv reads the configuration through getenv and builds the function.
// A configuration error is logged, naming its variable, and returned.
func FromEnv(ctx context.Context, getenv func(string) string, log *slog.Logger) (apigateway.Lambda, error) {
	cfg, err := LoadConfig(getenv)
	if err == nil && (cfg.SecretID != "" || cfg.StateTable != "") {
		cfg.AWS, err = awsenv.Load(getenv)
	}
	var fn apigateway.Lambda
	if err == nil {
		fn, err = Build(ctx, cfg, nil, log, nil)
	}
	if err != nil {
		startup.LogError(log, err)
		return apigateway.Lambda{}, err
	}
	return fn, nil
}
