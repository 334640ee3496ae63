package handler

import (
	"log/slog"
	"strconv"
	"time"
)

// Metrics in CloudWatch's embedded metric format (EMF): each request's log
// line carries an "_aws" member that tells CloudWatch Logs which of the
// line's members are metrics, so the counts come from the line the
// function already writes, with no API call. The README names the
// namespace, the metrics and the dimensions; template.yaml's alarms use
// them.
const (
	// MetricsNamespace holds both functions' metrics.
	MetricsNamespace = "ComplyCubeCreateSession"
	// DimensionFunction is the function's name (AWS_LAMBDA_FUNCTION_NAME).
	DimensionFunction = "Function"
	// DimensionStatus is the answer's HTTP status, e.g. "502".
	DimensionStatus = "StatusCode"
	// DimensionUpstreamStatus is ComplyCube's last status ("0": none).
	DimensionUpstreamStatus = "UpstreamStatus"
)

// Metric names, in the namespace above.
const (
	MetricRequests        = "Requests"        // one per request
	MetricErrors5xx       = "Errors5xx"       // 1 when the answer was a 5xx
	MetricColdStarts      = "ColdStarts"      // 1 on the instance's first request
	MetricKeyReadFailures = "KeyReadFailures" // 1 when the secret could not be read (a 503)
	MetricKeyRejected     = "KeyRejected"     // 1 when ComplyCube rejected the key (401/403) for good
	MetricUpstreamCalls   = "ComplyCubeCalls" // HTTP calls made to ComplyCube
	MetricUpstreamLatency = "ComplyCubeLatency"
)

// MetricDef is one metric of a directive.
type MetricDef struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

// MetricDirective is one entry of _aws.CloudWatchMetrics.
type MetricDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []MetricDef `json:"Metrics"`
}

// EMFAttrs returns the _aws member for directives, followed by the
// dimension values (strings) and metric values (numbers) as top-level
// members, as the format requires.
func EMFAttrs(now time.Time, directives []MetricDirective, dimensions map[string]string, values map[string]float64) []slog.Attr {
	attrs := []slog.Attr{slog.Any("_aws", map[string]any{
		"Timestamp":         now.UnixMilli(),
		"CloudWatchMetrics": directives,
	})}
	for _, d := range directives {
		for _, set := range d.Dimensions {
			for _, name := range set {
				if v, ok := dimensions[name]; ok {
					attrs = append(attrs, slog.String(name, v))
					delete(dimensions, name) // once each
				}
			}
		}
		for _, m := range d.Metrics {
			if v, ok := values[m.Name]; ok {
				attrs = append(attrs, slog.Float64(m.Name, v))
				delete(values, m.Name)
			}
		}
	}
	return attrs
}

// requestDirective counts requests by answer status; upstreamDirective
// (only when ComplyCube was called) ComplyCube's answers by status, with
// their latency.
var (
	requestDirective = MetricDirective{
		Namespace:  MetricsNamespace,
		Dimensions: [][]string{{DimensionFunction}, {DimensionFunction, DimensionStatus}},
		Metrics: []MetricDef{
			{MetricRequests, "Count"}, {MetricErrors5xx, "Count"}, {MetricColdStarts, "Count"},
			{MetricKeyReadFailures, "Count"}, {MetricKeyRejected, "Count"},
		},
	}
	upstreamDirective = MetricDirective{
		Namespace:  MetricsNamespace,
		Dimensions: [][]string{{DimensionFunction}, {DimensionFunction, DimensionUpstreamStatus}},
		Metrics:    []MetricDef{{MetricUpstreamCalls, "Count"}, {MetricUpstreamLatency, "Milliseconds"}},
	}
)

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// metricAttrs are the EMF members of one request's log line.
func (h *Handler) metricAttrs(out outcome, first bool) []slog.Attr {
	directives := []MetricDirective{requestDirective}
	dims := map[string]string{DimensionFunction: h.cfg.FunctionName, DimensionStatus: strconv.Itoa(out.resp.Status)}
	values := map[string]float64{
		MetricRequests:        1,
		MetricErrors5xx:       b2f(out.resp.Status >= 500),
		MetricColdStarts:      b2f(first),
		MetricKeyReadFailures: b2f(out.errType == TypeServiceUnavailable),
		MetricKeyRejected:     b2f(out.keyRejected),
	}
	if out.attempts > 0 {
		directives = append(directives, upstreamDirective)
		dims[DimensionUpstreamStatus] = strconv.Itoa(out.upstreamStatus)
		values[MetricUpstreamCalls] = float64(out.attempts)
		values[MetricUpstreamLatency] = float64(out.upstreamTime.Microseconds()) / 1000
	}
	return EMFAttrs(h.now(), directives, dims, values)
}
