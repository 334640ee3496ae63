package api

import (
	"log/slog"
	"time"
)

// Record is what one request did, as its log line tells it: the members
// every function writes, the function's own, and its metrics. A core fills
// one per request and hands it to its RequestLog; the adapter decides the
// format (CloudWatch's JSON with embedded metrics on Lambda, one short line
// in the dev server's terminal).
type Record struct {
	// Message names the kind of line ("request", "webhook", "status").
	Message   string
	Request   Request
	Status    int
	Took      time.Duration
	ColdStart bool
	// ErrType is the answer's error type, if any; Cause why it was given
	// (for the log only, never for the caller).
	ErrType string
	Cause   error
	// Attrs are the function's own members, in order.
	Attrs []slog.Attr
	// Metrics are this request's counts, nil for none.
	Metrics *Metrics
}

// Level is the record's log level: ERROR for a 5xx with a cause, WARN for
// another answer with a cause, INFO otherwise.
func (r *Record) Level() slog.Level {
	switch {
	case r.Cause == nil:
		return slog.LevelInfo
	case r.Status >= 500:
		return slog.LevelError
	default:
		return slog.LevelWarn
	}
}

// RequestLog writes one request's record.
type RequestLog interface {
	Write(r *Record)
}

// MetricDef is one metric a function counts or measures.
type MetricDef struct {
	Name string
	Unit string // "Count", "Milliseconds"
}

// MetricSet is metrics that are counted together, and the dimensions they
// are split by. The adapter adds the function's own name to every set.
type MetricSet struct {
	// DimensionSets lists the splits, e.g. {{}, {"StatusCode"}}: in total
	// and by status.
	DimensionSets [][]string
	Metrics       []MetricDef
}

// MetricSchema is a fixed list of sets, declared once per kind of line:
// per request only the values change, so an adapter can encode the rest
// once.
type MetricSchema struct {
	Sets []MetricSet
	// Dimensions and MetricNames list every dimension and metric of the
	// sets once, in order: the order of Metrics' values.
	Dimensions  []string
	MetricNames []string
}

// NewMetricSchema describes sets.
func NewMetricSchema(sets ...MetricSet) *MetricSchema {
	s := &MetricSchema{Sets: sets}
	seen := map[string]bool{}
	for _, set := range sets {
		for _, dims := range set.DimensionSets {
			for _, d := range dims {
				if !seen["d:"+d] {
					seen["d:"+d] = true
					s.Dimensions = append(s.Dimensions, d)
				}
			}
		}
		for _, m := range set.Metrics {
			if !seen["m:"+m.Name] {
				seen["m:"+m.Name] = true
				s.MetricNames = append(s.MetricNames, m.Name)
			}
		}
	}
	return s
}

// Metrics are one request's values for a schema, in its order.
type Metrics struct {
	Schema     *MetricSchema
	Dimensions []string
	Values     []float64
}

// Count is 1 for true and 0 for false: a metric that counts a condition.
func Count(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
