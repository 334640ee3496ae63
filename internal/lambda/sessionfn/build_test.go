package sessionfn_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/complycube-session/createsession/internal/lambda/sessionfn"
	"github.com/complycube-session/createsession/internal/lambda/startup"
	"github.com/complycube-session/createsession/internal/lambda/statestore"
)

// TestCannotStartWithoutAWS: a table or a secret without the AWS
// configuration to reach it stops Build before anything is read or
// dialled, naming the variable, and the configuration's warnings are still
// written.
func TestCannotStartWithoutAWS(t *testing.T) {
	for _, c := range []struct {
		env      map[string]string
		variable string
	}{
		{map[string]string{"COMPLYCUBE_API_KEY": "test_k", "STATE_TABLE": "state"}, statestore.EnvStateTable},
		{map[string]string{"COMPLYCUBE_SECRET_ID": "complycube"}, startup.EnvSecretID},
	} {
		cfg, err := sessionfn.LoadConfig(func(k string) string { return c.env[k] })
		if err != nil {
			t.Fatal(err)
		}
		var logs strings.Builder
		_, err = sessionfn.Build(context.Background(), cfg, nil, slog.New(slog.NewJSONHandler(&logs, nil)), nil)
		var ce *startup.ConfigError
		if !errors.As(err, &ce) || ce.Variable != c.variable {
			t.Errorf("%v: %v, want a configuration error naming %s", c.env, err, c.variable)
		}
		if !strings.Contains(logs.String(), "CLIENT_SOURCE is request") {
			t.Errorf("%v: the warnings were not written:\n%s", c.env, logs.String())
		}
	}
}
