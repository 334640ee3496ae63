// Command status is the third Lambda function: built as "bootstrap" for
// the provided.al2023 runtime, it answers POST /sessions/status with where
// a person's verification stands, read from the shared state with the
// status token the create-session function gave the page. It reads no
// secret and calls no one but DynamoDB. See docs/api.md.
package main

import (
	"context"
	"io"
	"os"

	"github.com/complycube-session/createsession/internal/lambda/startup"
	"github.com/complycube-session/createsession/internal/lambda/statusfn"
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
	return startup.Run(ctx, getenv, stdout, statusfn.FromEnv)
}
