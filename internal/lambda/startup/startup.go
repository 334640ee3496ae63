// Package startup is what every function's wiring does the same way while
// it starts: the environment variables they share, the configuration error
// that names its variable, the logger, the one line that says why a
// function cannot start, and init without garbage collection.
package startup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"time"
)

// The variables more than one function reads (docs/configuration.md).
const (
	EnvSecretID = "COMPLYCUBE_SECRET_ID"
	// EnvAllowedOrigins: the browser-facing functions (create-session and
	// status) share the list.
	EnvAllowedOrigins = "ALLOWED_ORIGINS"
	// EnvFunctionName is set by Lambda itself: the metrics' Function
	// dimension.
	EnvFunctionName = "AWS_LAMBDA_FUNCTION_NAME"
	// Local runs only, instead of the secret: its values one by one.
	EnvAPIKey        = "COMPLYCUBE_API_KEY"
	EnvInvitationKey = "INVITATION_KEY"
	EnvWebhookSecret = "WEBHOOK_SECRET"
	EnvTurnstileKey  = "TURNSTILE_SECRET_KEY"
)

// InitSecretTimeout bounds the secret's read during init, well inside
// Lambda's 10 s init limit even when Secrets Manager hangs.
const InitSecretTimeout = 3 * time.Second

// ConfigError names the variable that could not be parsed.
type ConfigError struct {
	Variable string
	Err      error
}

func (e *ConfigError) Error() string { return fmt.Sprintf("%s: %v", e.Variable, e.Err) }
func (e *ConfigError) Unwrap() error { return e.Err }

// NewLogger returns the JSON logger every function writes its lines with.
func NewLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, nil))
}

// LogError writes the one line that says why the program cannot start,
// naming the variable when a configuration value is at fault.
func LogError(log *slog.Logger, err error) {
	attrs := []any{slog.String("error", err.Error())}
	var ce *ConfigError
	if errors.As(err, &ce) {
		attrs = append(attrs, slog.String("variable", ce.Variable))
	}
	log.Error(fmt.Sprintf("configuration error: %v; cannot start", err), attrs...)
}

// WithoutGC runs build with the garbage collector off and turns it back on
// before returning: init allocates a few megabytes once, and at the 128 MB
// CPU share every collection during it is paid at a fourteenth of a core
// (BENCHMARKS.md). Every function's main uses it.
func WithoutGC[T any](build func() (T, error)) (T, error) {
	gc := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(gc)
	return build()
}

// LogWarnings writes configuration warnings, one line each.
func LogWarnings(log *slog.Logger, warnings []string) {
	for _, w := range warnings {
		log.Warn(w)
	}
}

// Prewarm opens a connection to a server in the background while init
// goes on (start is a client's Prewarm), bounded by InitSecretTimeout, and
// logs, without failing, when it could not: the first request then dials.
// Init never waits for it, so a slow server never lengthens init.
func Prewarm(ctx context.Context, log *slog.Logger, server string, start func(context.Context) (wait func() error)) {
	warmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), InitSecretTimeout)
	wait := start(warmCtx)
	go func() {
		defer cancel()
		if err := wait(); err != nil {
			log.Warn("could not connect to "+server+" in advance; the first request will", slog.String("cause", err.Error()))
		}
	}()
}
