// Command createsession is the Lambda function: built as "bootstrap" for the
// provided.al2023 runtime, it answers API Gateway events by creating a
// ComplyCube workflow session. See the README for its configuration.
package main

import (
	"context"
	"io"
	"os"

	"github.com/complycube-session/createsession/internal/lambda/sessionfn"
	"github.com/complycube-session/createsession/internal/lambda/startup"
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
	return startup.Run(ctx, getenv, stdout, sessionfn.FromEnv)
}
