// Command createsession is the Lambda function: built as "bootstrap" for the
// provided.al2023 runtime, it answers API Gateway events by creating a
// ComplyCube workflow session. See the README for its configuration.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/complycube-session/createsession/handler"
	"github.com/complycube-session/createsession/internal/app"
)

func main() {
	if err := run(context.Background(), os.Getenv, os.Stdout); err != nil {
		os.Exit(1)
	}
}

// run configures the function and hands it to the Lambda runtime, which
// does not return. It returns an error, already logged, only when the
// configuration is unusable.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	h, err := setup(ctx, getenv, stdout)
	if err != nil {
		return err
	}
	lambda.StartWithOptions(handler.Lambda{Handler: h}, lambda.WithContext(ctx))
	return nil
}

func setup(ctx context.Context, getenv func(string) string, stdout io.Writer) (*handler.Handler, error) {
	log := slog.New(slog.NewJSONHandler(stdout, nil))
	cfg, err := handler.LoadConfig(getenv)
	if err == nil {
		var h *handler.Handler
		if h, err = app.Build(ctx, cfg, log, app.Options{}); err == nil {
			return h, nil
		}
	}
	logConfigError(log, err)
	return nil, err
}

func logConfigError(log *slog.Logger, err error) {
	attrs := []any{slog.String("error", err.Error())}
	if ce, ok := err.(*handler.ConfigError); ok {
		attrs = append(attrs, slog.String("variable", ce.Variable))
	}
	log.Error(fmt.Sprintf("configuration error: %v; the function cannot start", err), attrs...)
}
