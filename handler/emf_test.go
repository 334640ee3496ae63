package handler_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/complycube-session/createsession/internal/testonly/emfcheck"
)

// TestMetricsInLogLines: every request log line is valid CloudWatch EMF,
// and its metrics count what happened.
func TestMetricsInLogLines(t *testing.T) {
	cases := []struct {
		name    string
		opts    fixtureOpts
		body    string
		metrics emfcheck.Metrics
		dims    map[string]string
	}{
		{"a success", fixtureOpts{secret: apiKey}, validBody,
			emfcheck.Metrics{"Requests": 1, "Errors5xx": 0, "ColdStarts": 1, "KeyReadFailures": 0, "KeyRejected": 0, "ComplyCubeCalls": 1},
			map[string]string{"StatusCode": "200", "UpstreamStatus": "200", "Function": "stack-create-session"}},
		{"a refused body: no ComplyCube metrics", fixtureOpts{secret: apiKey}, `{}`,
			emfcheck.Metrics{"Requests": 1, "Errors5xx": 0},
			map[string]string{"StatusCode": "400"}},
		{"the key unreadable", fixtureOpts{}, validBody,
			emfcheck.Metrics{"Requests": 1, "Errors5xx": 1, "KeyReadFailures": 1},
			map[string]string{"StatusCode": "503"}},
		{"the key rejected", fixtureOpts{secret: apiKey, replies: []http.HandlerFunc{reply(401, `{"type":"unauthorized","message":"x"}`)}}, validBody,
			emfcheck.Metrics{"Requests": 1, "Errors5xx": 1, "KeyRejected": 1, "ComplyCubeCalls": 1},
			map[string]string{"StatusCode": "502", "UpstreamStatus": "401"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.opts.env == nil {
				c.opts.env = map[string]string{}
			}
			c.opts.env["AWS_LAMBDA_FUNCTION_NAME"] = "stack-create-session"
			f := newFixture(t, c.opts)
			f.invoke(post(c.body))
			var line string
			for _, l := range strings.Split(f.logs.String(), "\n") {
				if strings.Contains(l, `"msg":"request"`) {
					line = l
				}
			}
			got, errs := emfcheck.Validate([]byte(line))
			for _, err := range errs {
				t.Errorf("EMF: %v\n%s", err, line)
			}
			for k, v := range c.metrics {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
			if _, ok := got["ComplyCubeLatency"]; ok != (c.metrics["ComplyCubeCalls"] > 0) {
				t.Errorf("ComplyCubeLatency present = %v", ok)
			}
			for k, v := range c.dims {
				if !strings.Contains(line, `"`+k+`":"`+v+`"`) {
					t.Errorf("dimension %s is not %q in %s", k, v, line)
				}
			}
		})
	}
}

// TestEMFCheckCatches: the validator fails lines that break the rules.
func TestEMFCheckCatches(t *testing.T) {
	for name, line := range map[string]string{
		"no _aws":               `{"Requests":1}`,
		"a metric not a member": `{"_aws":{"Timestamp":1764583200000,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"Requests","Unit":"Count"}]}]}}`,
		"a unit not allowed":    `{"_aws":{"Timestamp":1764583200000,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"R","Unit":"Requests"}]}]},"R":1}`,
		"a dimension missing":   `{"_aws":{"Timestamp":1764583200000,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["Function"]],"Metrics":[{"Name":"R","Unit":"Count"}]}]},"R":1}`,
		"a numeric dimension":   `{"_aws":{"Timestamp":1764583200000,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["S"]],"Metrics":[{"Name":"R","Unit":"Count"}]}]},"R":1,"S":200}`,
		"seconds, not ms":       `{"_aws":{"Timestamp":1764583200,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"R","Unit":"Count"}]}]},"R":1}`,
		"no namespace":          `{"_aws":{"Timestamp":1764583200000,"CloudWatchMetrics":[{"Dimensions":[[]],"Metrics":[{"Name":"R","Unit":"Count"}]}]},"R":1}`,
		"a string value":        `{"_aws":{"Timestamp":1764583200000,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"R","Unit":"Count"}]}]},"R":"1"}`,
		"101 metrics":           manyMetrics(101),
	} {
		if _, errs := emfcheck.Validate([]byte(line)); len(errs) == 0 {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, errs := emfcheck.Validate([]byte(manyMetrics(100))); len(errs) != 0 {
		t.Errorf("100 metrics: %v", errs)
	}
}

func manyMetrics(n int) string {
	var defs, vals []string
	for i := 0; i < n; i++ {
		name := "M" + strings.Repeat("x", i)
		defs = append(defs, `{"Name":"`+name+`","Unit":"Count"}`)
		vals = append(vals, `"`+name+`":1`)
	}
	return `{"_aws":{"Timestamp":1764583200000,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[` + strings.Join(defs, ",") + `]}]},` + strings.Join(vals, ",") + `}`
}
