// Package app wires the function's parts together from its configuration:
// the key source, the ComplyCube client and the handler. Both programs in
// cmd/ use it, so the Lambda function and the dev server cannot drift apart.
package app

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/complycube-session/createsession/handler"
	"github.com/complycube-session/createsession/internal/lambda/apigateway"
	"github.com/complycube-session/createsession/internal/lambda/complycube"
	"github.com/complycube-session/createsession/internal/lambda/secret"
)

// InitKeyTimeout bounds the key read during init, well inside Lambda's 10 s
// init limit even when Secrets Manager hangs.
const InitKeyTimeout = 3 * time.Second

// Build logs the configuration's warnings, reads the key once (a failure is
// logged, not fatal) while it connects to ComplyCube in advance, and returns
// the function as the Lambda runtime calls it. cfg must hold a secret ID or
// an API key.
func Build(ctx context.Context, cfg handler.Config, log *slog.Logger) (apigateway.Lambda, error) {
	// Parsing the system's CA bundle takes milliseconds; both TLS handshakes
	// of init need it, but only after their TCP connects. Load it meanwhile.
	go x509.SystemCertPool()
	cfg.LogWarnings(log)
	var fetcher secret.Fetcher
	switch {
	case cfg.SecretID != "":
		fetcher = SecretsManagerFetcher(cfg.SecretID)
	case cfg.APIKey != "":
		fetcher = secret.Static{APIKey: cfg.APIKey, InvitationKey: cfg.InvitationKey, WebhookSecret: cfg.WebhookSecret}
	default:
		return apigateway.Lambda{}, &handler.ConfigError{Variable: handler.EnvSecretID, Err: errors.New("is required (or " + handler.EnvAPIKey + " for local runs)")}
	}
	client, err := complycube.New(complycube.Config{BaseURL: cfg.BaseURL, Timeout: cfg.UpstreamTimeout})
	if err != nil {
		return apigateway.Lambda{}, &handler.ConfigError{Variable: handler.EnvBaseURL, Err: err}
	}
	keys := secret.NewCache(fetcher, secret.WithFetchTimeout(InitKeyTimeout))

	// Connect to ComplyCube while the key is read: a cold start then waits
	// for the slower of the two, not for both in turn. Init does not wait
	// for the connection: the first request takes it over, waiting for the
	// handshake only if it is still under way, so a slow or unreachable
	// ComplyCube never lengthens init (and its billed time).
	warmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), InitKeyTimeout)
	waitWarm := client.Prewarm(warmCtx)
	go func() {
		defer cancel()
		if err := waitWarm(); err != nil {
			log.Warn("could not connect to ComplyCube in advance; the first request will", slog.String("cause", err.Error()))
		}
	}()
	if err := keys.Load(ctx); err != nil {
		log.Error("the API key could not be read at start; answering 503 until a later read succeeds", slog.String("cause", err.Error()))
	}
	return apigateway.Lambda{Handler: handler.New(cfg, keys, client, log), Log: log}, nil
}

// The adapters implement the core's ports.
var (
	_ handler.Secrets    = (*secret.Cache)(nil)
	_ handler.ComplyCube = (*complycube.Client)(nil)
)

// SecretsManagerFetcher reads the secret secretID from Secrets Manager with
// the AWS SDK's default configuration (the function's role on Lambda, the
// caller's credentials for cmd/invite).
func SecretsManagerFetcher(secretID string) secret.Fetcher {
	return &lazySecretsManager{secretID: secretID}
}

// lazySecretsManager builds the SDK client on first use, inside the bounded
// read, so that a slow credential or region lookup counts against the same
// timeout as the read itself.
type lazySecretsManager struct {
	secretID string
	reader   *secret.SecretsManager
}

func (l *lazySecretsManager) Fetch(ctx context.Context) (secret.Secret, error) {
	if l.reader == nil {
		awsCfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return secret.Secret{}, fmt.Errorf("load AWS configuration: %w", err)
		}
		l.reader = &secret.SecretsManager{Client: secretsmanager.NewFromConfig(awsCfg), SecretID: l.secretID}
	}
	return l.reader.Fetch(ctx)
}

// FromEnv reads the configuration through getenv and builds the function.
// A configuration error is logged, naming its variable, and returned.
func FromEnv(ctx context.Context, getenv func(string) string, log *slog.Logger) (apigateway.Lambda, error) {
	cfg, err := handler.LoadConfig(getenv)
	var fn apigateway.Lambda
	if err == nil {
		fn, err = Build(ctx, cfg, log)
	}
	if err != nil {
		LogStartError(log, err)
		return apigateway.Lambda{}, err
	}
	return fn, nil
}

// BuildWithoutGC runs build with the garbage collector off and turns it
// back on before returning: init allocates a few megabytes once, and at
// the 128 MB CPU share every collection during it is paid at a fourteenth
// of a core (BENCHMARKS.md). Both functions' main use it.
func BuildWithoutGC(build func() (apigateway.Lambda, error)) (apigateway.Lambda, error) {
	gc := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(gc)
	return build()
}

// NewLogger returns the JSON logger both programs write their lines with.
func NewLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, nil))
}

// LogStartError writes the one line that says why the program cannot start,
// naming the variable when a configuration value is at fault.
func LogStartError(log *slog.Logger, err error) {
	attrs := []any{slog.String("error", err.Error())}
	var ce *handler.ConfigError
	if errors.As(err, &ce) {
		attrs = append(attrs, slog.String("variable", ce.Variable))
	}
	log.Error(fmt.Sprintf("configuration error: %v; cannot start", err), attrs...)
}
