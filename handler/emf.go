package handler

import (
	"encoding/json"
	"log/slog"
	"slices"
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

// EMFSchema is a fixed set of directives, marshalled once: per line only
// the timestamp, the dimension values and the metric values change.
type EMFSchema struct {
	head       []byte   // the _aws object up to the timestamp
	tail       []byte   // the rest of the _aws object
	dimensions []string // every dimension of the directives, once, in order
	metrics    []string // every metric, once, in order
}

// NewEMFSchema marshals directives.
func NewEMFSchema(directives ...MetricDirective) *EMFSchema {
	dirs, err := json.Marshal(directives)
	if err != nil {
		panic("metric directives: " + err.Error())
	}
	s := &EMFSchema{head: []byte(`{"Timestamp":`), tail: append(append([]byte(`,"CloudWatchMetrics":`), dirs...), '}')}
	for _, d := range directives {
		for _, set := range d.Dimensions {
			for _, name := range set {
				if !slices.Contains(s.dimensions, name) {
					s.dimensions = append(s.dimensions, name)
				}
			}
		}
		for _, m := range d.Metrics {
			if !slices.Contains(s.metrics, m.Name) {
				s.metrics = append(s.metrics, m.Name)
			}
		}
	}
	return s
}

// Attrs returns the _aws member for now, followed by the dimension values
// (strings) and metric values (numbers) as top-level members, as the
// format requires; dims and values are in the schema's order (Dimensions,
// Metrics).
func (s *EMFSchema) Attrs(now time.Time, dims []string, values []float64) []slog.Attr {
	aws := make([]byte, 0, len(s.head)+len(s.tail)+13)
	aws = append(aws, s.head...)
	aws = strconv.AppendInt(aws, now.UnixMilli(), 10)
	aws = append(aws, s.tail...)
	attrs := make([]slog.Attr, 0, 1+len(s.dimensions)+len(s.metrics))
	attrs = append(attrs, slog.Any("_aws", json.RawMessage(aws)))
	for i, name := range s.dimensions {
		attrs = append(attrs, slog.String(name, dims[i]))
	}
	for i, name := range s.metrics {
		attrs = append(attrs, slog.Float64(name, values[i]))
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

// The two schemas of a request's line: without and with ComplyCube calls.
var (
	requestSchema  = NewEMFSchema(requestDirective)
	upstreamSchema = NewEMFSchema(requestDirective, upstreamDirective)
)

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// metricAttrs are the EMF members of one request's log line.
func (h *Handler) metricAttrs(out outcome, first bool) []slog.Attr {
	// In requestSchema's order: Requests, Errors5xx, ColdStarts,
	// KeyReadFailures, KeyRejected (then ComplyCubeCalls, ComplyCubeLatency).
	values := []float64{1, b2f(out.resp.Status >= 500), b2f(first), b2f(out.errType == TypeServiceUnavailable), b2f(out.keyRejected)}
	if out.attempts == 0 {
		return requestSchema.Attrs(h.now(), []string{h.cfg.FunctionName, strconv.Itoa(out.resp.Status)}, values)
	}
	values = append(values, float64(out.attempts), float64(out.upstreamTime.Microseconds())/1000)
	return upstreamSchema.Attrs(h.now(), []string{h.cfg.FunctionName, strconv.Itoa(out.resp.Status), strconv.Itoa(out.upstreamStatus)}, values)
}
