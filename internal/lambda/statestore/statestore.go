// Package statestore opens the shared state every function uses: the
// DynamoDB table named by STATE_TABLE, or, without it (local runs), the
// instance's own memory, with a warning where that weakens a promise.
package statestore

import (
	"context"
	"errors"
	"log/slog"

	"github.com/complycube-session/createsession/handler/state"
	"github.com/complycube-session/createsession/internal/lambda/awsenv"
	"github.com/complycube-session/createsession/internal/lambda/dynamostate"
	"github.com/complycube-session/createsession/internal/lambda/memstate"
	"github.com/complycube-session/createsession/internal/lambda/startup"
)

// EnvStateTable names the DynamoDB table (docs/configuration.md).
const EnvStateTable = "STATE_TABLE"

// Open returns the store for table. Without a table it keeps the state in
// this instance's memory and, when need is not empty (what the state is
// needed for), logs a warning: on Lambda each instance would then count and
// remember on its own. With a table, awsEnv is the function's AWS
// configuration, and a connection to DynamoDB is opened now, in the
// background, while init goes on: the first request does not pay for it.
func Open(ctx context.Context, awsEnv *awsenv.Env, table string, log *slog.Logger, need string) (state.Store, error) {
	if table == "" {
		if need != "" {
			log.Warn(EnvStateTable + " is not set: " + need + " keeps its state in this instance's memory, so on Lambda each instance counts and remembers on its own (set it on AWS; the template does)")
		}
		return memstate.New(), nil
	}
	if awsEnv == nil {
		return nil, &startup.ConfigError{Variable: EnvStateTable, Err: errors.New("is set, but no AWS configuration was read")}
	}
	client := dynamostate.NewClient(awsEnv.Config, awsEnv.WarmHTTPClient(ctx, log, "DYNAMODB", "dynamodb"))
	return dynamostate.New(client, table), nil
}
