package startup

import (
	"context"
	"io"
	"log/slog"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/complycube-session/createsession/internal/lambda/apigateway"
)

// Run is every function's main: it builds the function with fromEnv (its
// configuration read through getenv, its lines written to stdout as JSON),
// with no garbage collection during init, and hands it to the Lambda
// runtime, which does not return. It returns an error, already logged,
// only when the configuration is unusable.
func Run(ctx context.Context, getenv func(string) string, stdout io.Writer,
	fromEnv func(ctx context.Context, getenv func(string) string, log *slog.Logger) (apigateway.Lambda, error)) error {
	fn, err := WithoutGC(func() (apigateway.Lambda, error) {
		return fromEnv(ctx, getenv, NewLogger(stdout))
	})
	if err != nil {
		return err
	}
	lambda.StartWithOptions(fn, lambda.WithContext(ctx))
	return nil
}
