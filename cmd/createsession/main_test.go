package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestSetupRefusesBadConfiguration: run returns before starting the runtime,
// with one JSON error line naming the variable.
func TestSetupRefusesBadConfiguration(t *testing.T) {
	tests := []struct {
		env      map[string]string
		variable string
	}{
		{map[string]string{}, "COMPLYCUBE_SECRET_ID"},
		{map[string]string{"COMPLYCUBE_API_KEY": "test_x", "UPSTREAM_TIMEOUT": "soon"}, "UPSTREAM_TIMEOUT"},
		{map[string]string{"COMPLYCUBE_API_KEY": "test_x", "ALLOWED_ORIGINS": "https://a.example/path"}, "ALLOWED_ORIGINS"},
		{map[string]string{"COMPLYCUBE_API_KEY": "test_x", "WORKFLOW_TEMPLATE_IDS": "a b"}, "WORKFLOW_TEMPLATE_IDS"},
	}
	for _, tc := range tests {
		var out bytes.Buffer
		err := run(context.Background(), func(k string) string { return tc.env[k] }, &out)
		if err == nil {
			t.Fatalf("%v: run started the runtime", tc.env)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		var last map[string]any
		if json.Unmarshal([]byte(lines[len(lines)-1]), &last) != nil || last["level"] != "ERROR" || last["variable"] != tc.variable {
			t.Errorf("%v: log %q, want an ERROR line naming %s", tc.env, out.String(), tc.variable)
		}
	}
}
