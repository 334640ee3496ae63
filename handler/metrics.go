package handler

import (
	"strconv"

	"github.com/complycube-session/createsession/handler/api"
)

// What the create-session function counts, per request. The log adapter
// encodes it (CloudWatch's embedded metric format on Lambda) and adds the
// function's name to every split; docs/operating.md names the metrics and
// template.yaml's alarms read them.
const (
	// DimensionStatus is the answer's HTTP status, e.g. "502".
	DimensionStatus = "StatusCode"
	// DimensionUpstreamStatus is ComplyCube's last status ("0": none).
	DimensionUpstreamStatus = "UpstreamStatus"
	// DimensionReason is why a sign-up was refused: bot, ip, email, day.
	DimensionReason = "Reason"

	MetricRequests        = "Requests"        // one per request
	MetricErrors5xx       = "Errors5xx"       // 1 when the answer was a 5xx
	MetricColdStarts      = "ColdStarts"      // 1 on the instance's first request
	MetricKeyReadFailures = "KeyReadFailures" // 1 when the secret could not be read (a 503)
	MetricKeyRejected     = "KeyRejected"     // 1 when ComplyCube rejected the key (401/403) for good
	MetricUpstreamCalls   = "ComplyCubeCalls" // HTTP calls made to ComplyCube
	MetricUpstreamLatency = "ComplyCubeLatency"
	MetricStateErrors     = "StateErrors"   // 1 when the shared state failed
	MetricSignupRefused   = "SignupRefused" // 1 for a sign-up refused before ComplyCube, by Reason
)

// requestMetrics counts requests by answer status; upstreamMetrics (only
// when ComplyCube was called) ComplyCube's answers by status, with their
// latency.
var (
	requestMetrics = api.MetricSet{
		DimensionSets: [][]string{{}, {DimensionStatus}},
		Metrics: []api.MetricDef{
			{Name: MetricRequests, Unit: "Count"}, {Name: MetricErrors5xx, Unit: "Count"}, {Name: MetricColdStarts, Unit: "Count"},
			{Name: MetricKeyReadFailures, Unit: "Count"}, {Name: MetricKeyRejected, Unit: "Count"},
			{Name: MetricStateErrors, Unit: "Count"},
		},
	}
	refusedMetrics = api.MetricSet{
		DimensionSets: [][]string{{DimensionReason}},
		Metrics:       []api.MetricDef{{Name: MetricSignupRefused, Unit: "Count"}},
	}
	upstreamMetrics = api.MetricSet{
		DimensionSets: [][]string{{}, {DimensionUpstreamStatus}},
		Metrics:       []api.MetricDef{{Name: MetricUpstreamCalls, Unit: "Count"}, {Name: MetricUpstreamLatency, Unit: "Milliseconds"}},
	}
)

// The two schemas of a request's line: without and with ComplyCube calls.
var (
	requestSchema  = api.NewMetricSchema(requestMetrics)
	upstreamSchema = api.NewMetricSchema(requestMetrics, upstreamMetrics)
	refusedSchema  = api.NewMetricSchema(requestMetrics, refusedMetrics)
)

// metrics are one request's counts.
func metrics(out outcome, first bool) *api.Metrics {
	// In requestSchema's order: Requests, Errors5xx, ColdStarts,
	// KeyReadFailures, KeyRejected, StateErrors (then ComplyCubeCalls,
	// ComplyCubeLatency, or SignupRefused).
	values := []float64{1, api.Count(out.resp.Status >= 500), api.Count(first), api.Count(out.errType == api.TypeServiceUnavailable && out.keyUnreadable), api.Count(out.keyRejected), api.Count(out.stateError != nil)}
	if out.refusedFor != "" {
		return &api.Metrics{Schema: refusedSchema, Dimensions: []string{strconv.Itoa(out.resp.Status), out.refusedFor}, Values: append(values, 1)}
	}
	if out.attempts == 0 {
		return &api.Metrics{Schema: requestSchema, Dimensions: []string{strconv.Itoa(out.resp.Status)}, Values: values}
	}
	values = append(values, float64(out.attempts), float64(out.upstreamTime.Microseconds())/1000)
	return &api.Metrics{Schema: upstreamSchema, Dimensions: []string{strconv.Itoa(out.resp.Status), strconv.Itoa(out.upstreamStatus)}, Values: values}
}
