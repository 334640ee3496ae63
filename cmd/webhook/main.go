// Command webhook is the second Lambda function: built as "bootstrap" for
// the provided.al2023 runtime, it receives ComplyCube's webhooks on
// POST /webhooks, verifies their signature and tells the operator how each
// verification ended through the stack's SNS topic. See the README.
package main

import (
	"context"
	"io"
	"os"

	"github.com/complycube-session/createsession/internal/lambda/startup"
	"github.com/complycube-session/createsession/internal/lambda/webhookfn"
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
	return startup.Run(ctx, getenv, stdout, webhookfn.FromEnv)
}
