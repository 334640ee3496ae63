// Package emf writes each request's record as one JSON log line in
// CloudWatch's embedded metric format (EMF): an "_aws" member tells
// CloudWatch Logs which of the line's members are metrics, so the counts
// come from the line the function already writes, with no API call. The
// cores say what they count (api.MetricSchema); this adapter says how
// CloudWatch reads it. docs/operating.md names the namespace, the metrics
// and the dimensions; template.yaml's alarms use them.
package emf

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/complycube-session/createsession/handler/api"
)

// Namespace holds every function's metrics.
const Namespace = "ComplyCubeCreateSession"

// DimensionFunction is added to every dimension set: the function's name
// (Lambda's AWS_LAMBDA_FUNCTION_NAME), so that one namespace serves all.
const DimensionFunction = "Function"

// Log writes records to a slog logger.
type Log struct {
	log      *slog.Logger
	function string
	hashKey  func(context.Context) ([]byte, error)
	now      func() time.Time
	encoded  sync.Map // *api.MetricSchema → *encodedSchema
}

// New returns a Log that writes to log, naming function in every line's
// Function dimension ("local" when empty). hashKey, when not nil, gives
// the key of the lines' sourceIpHash (api.SourceHash); the source address
// itself is never written. hashKey must answer from memory: a line is
// written before the answer goes out, and must not make it wait.
func New(log *slog.Logger, function string, hashKey func(context.Context) ([]byte, error)) *Log {
	if function == "" {
		function = "local"
	}
	return &Log{log: log, function: function, hashKey: hashKey, now: time.Now}
}

// Write writes one line: the members every function writes (requestId,
// method, path, status, durationMs, coldStart), the function's own, the
// error and its cause, then the metrics.
func (l *Log) Write(r *api.Record) {
	attrs := make([]slog.Attr, 0, 10+len(r.Attrs)+metricCount(r.Metrics))
	attrs = append(attrs,
		slog.String("requestId", r.Request.RequestID),
		slog.String("method", r.Request.Method),
		slog.String("path", r.Request.Path),
		slog.Int("status", r.Status),
		slog.Float64("durationMs", float64(r.Took.Microseconds())/1000),
		slog.Bool("coldStart", r.ColdStart),
	)
	if l.hashKey != nil {
		if key, err := l.hashKey(context.Background()); err == nil {
			attrs = append(attrs, slog.String("sourceIpHash", api.SourceHash(key, r.Request.SourceIP)))
		}
	}
	attrs = append(attrs, r.Attrs...)
	if r.ErrType != "" {
		attrs = append(attrs, slog.String("error", r.ErrType))
	}
	if r.Cause != nil {
		attrs = append(attrs, slog.String("cause", r.Cause.Error()))
	}
	if r.Metrics != nil {
		attrs = l.appendMetrics(attrs, r.Metrics)
	}
	l.log.LogAttrs(context.Background(), r.Level(), r.Message, attrs...)
}

func metricCount(m *api.Metrics) int {
	if m == nil {
		return 0
	}
	return 2 + len(m.Dimensions) + len(m.Values)
}

// encodedSchema is a schema's _aws object, marshalled once: per line only
// the timestamp goes between head and tail.
type encodedSchema struct {
	head, tail []byte
}

type metricDef struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

type directive struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []metricDef `json:"Metrics"`
}

func encode(s *api.MetricSchema) *encodedSchema {
	dirs := make([]directive, 0, len(s.Sets))
	for _, set := range s.Sets {
		d := directive{Namespace: Namespace}
		for _, dims := range set.DimensionSets {
			d.Dimensions = append(d.Dimensions, append([]string{DimensionFunction}, dims...))
		}
		for _, m := range set.Metrics {
			d.Metrics = append(d.Metrics, metricDef(m))
		}
		dirs = append(dirs, d)
	}
	data, err := json.Marshal(dirs)
	if err != nil {
		panic("metric directives: " + err.Error())
	}
	return &encodedSchema{head: []byte(`{"Timestamp":`), tail: append(append([]byte(`,"CloudWatchMetrics":`), data...), '}')}
}

// appendMetrics adds the _aws member, then the dimension values (strings)
// and metric values (numbers) as top-level members, as the format requires.
func (l *Log) appendMetrics(attrs []slog.Attr, m *api.Metrics) []slog.Attr {
	e, ok := l.encoded.Load(m.Schema)
	if !ok {
		e, _ = l.encoded.LoadOrStore(m.Schema, encode(m.Schema))
	}
	es := e.(*encodedSchema)
	aws := make([]byte, 0, len(es.head)+len(es.tail)+13)
	aws = append(aws, es.head...)
	aws = strconv.AppendInt(aws, l.now().UnixMilli(), 10)
	aws = append(aws, es.tail...)
	attrs = append(attrs, slog.Any("_aws", json.RawMessage(aws)), slog.String(DimensionFunction, l.function))
	for i, name := range m.Schema.Dimensions {
		attrs = append(attrs, slog.String(name, m.Dimensions[i]))
	}
	for i, name := range m.Schema.MetricNames {
		attrs = append(attrs, slog.Float64(name, m.Values[i]))
	}
	return attrs
}
