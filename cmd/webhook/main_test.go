package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestConfigurationErrors: a configuration the function cannot use stops
// it at start, with one ERROR line naming the variable.
func TestConfigurationErrors(t *testing.T) {
	for want, env := range map[string]map[string]string{
		"COMPLYCUBE_SECRET_ID": {"ALERT_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:t"},
		"ALERT_TOPIC_ARN":      {"COMPLYCUBE_SECRET_ID": "s"},
	} {
		var out bytes.Buffer
		err := run(context.Background(), func(k string) string { return env[k] }, &out)
		if err == nil || !strings.Contains(out.String(), `"level":"ERROR"`) || !strings.Contains(out.String(), `"variable":"`+want+`"`) {
			t.Errorf("without %s: %v\n%s", want, err, out.String())
		}
	}
	var out bytes.Buffer
	env := map[string]string{"COMPLYCUBE_SECRET_ID": "s", "ALERT_TOPIC_ARN": "not-an-arn"}
	if err := run(context.Background(), func(k string) string { return env[k] }, &out); err == nil || !strings.Contains(out.String(), `"variable":"ALERT_TOPIC_ARN"`) {
		t.Errorf("a malformed topic ARN: %v", err)
	}
}
