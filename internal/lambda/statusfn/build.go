// Package statusfn is the status function's wiring: it reads the
// configuration from the environment and builds the reader from the core
// (handler/status) and its adapters (the shared state, the log line). It
// reads no secret and links neither the ComplyCube client nor Secrets
// Manager's.
package statusfn

import (
	"context"
	"crypto/rand"
	"log/slog"
	"strings"

	"github.com/complycube-session/createsession/handler/api"
	"github.com/complycube-session/createsession/handler/cors"
	"github.com/complycube-session/createsession/handler/state"
	"github.com/complycube-session/createsession/handler/status"
	"github.com/complycube-session/createsession/internal/lambda/apigateway"
	"github.com/complycube-session/createsession/internal/lambda/awsenv"
	"github.com/complycube-session/createsession/internal/lambda/emf"
	"github.com/complycube-session/createsession/internal/lambda/startup"
	"github.com/complycube-session/createsession/internal/lambda/statestore"
)

// Config is the status function's configuration.
type Config struct {
	status.Config
	StateTable   string
	FunctionName string
	// AWS is the AWS configuration the table is read with (FromEnv reads
	// it from the environment when a table is configured). Nil: no AWS.
	AWS *awsenv.Env
}

// LoadConfig reads the configuration through getenv; a value that cannot
// be parsed is an error naming its variable.
func LoadConfig(getenv func(string) string) (Config, error) {
	c := Config{
		StateTable:   strings.TrimSpace(getenv(statestore.EnvStateTable)),
		FunctionName: strings.TrimSpace(getenv(startup.EnvFunctionName)),
	}
	var err error
	if c.AllowedOrigins, err = cors.ParseList(getenv(startup.EnvAllowedOrigins)); err != nil {
		return Config{}, &startup.ConfigError{Variable: startup.EnvAllowedOrigins, Err: err}
	}
	return c, nil
}

// Build returns the status function as the Lambda runtime calls it,
// reading store. requests, when nil, are written to log as JSON lines with
// embedded metrics.
func Build(cfg Config, store state.Store, log *slog.Logger, requests api.RequestLog) apigateway.Lambda {
	if requests == nil {
		// The status function reads no secret, so its lines' sourceIpHash
		// is keyed with a key of this instance's own: it links requests
		// within one instance, not across instances or with the other
		// functions' lines.
		key := make([]byte, 32)
		rand.Read(key)
		requests = emf.New(log, cfg.FunctionName, func(context.Context) ([]byte, error) { return key, nil })
	}
	return apigateway.Lambda{Handler: status.New(cfg.Config, store, requests), Log: log, MaxBody: status.MaxBodyBytes}
}

// FromEnv reads the configuration through getenv and builds the function
// on the configured table (the instance's memory without STATE_TABLE, with
// a warning). A configuration error is logged, naming its variable, and
// returned.
func FromEnv(ctx context.Context, getenv func(string) string, log *slog.Logger) (apigateway.Lambda, error) {
	cfg, err := LoadConfig(getenv)
	if err == nil && cfg.StateTable != "" {
		cfg.AWS, err = awsenv.Load(getenv)
	}
	var store state.Store
	if err == nil {
		store, err = statestore.Open(ctx, cfg.AWS, cfg.StateTable, log, "the status function")
	}
	if err == nil && cfg.StateTable != "" {
		// The roots are indexed while DynamoDB's connection waits for
		// its server.
		startup.PreloadTrustStore()
	}
	if err != nil {
		startup.LogError(log, err)
		return apigateway.Lambda{}, err
	}
	return Build(cfg, store, log, nil), nil
}
