// Package emfcheck validates log lines against the rules of CloudWatch's
// embedded metric format specification, for the functions' tests: what
// CloudWatch Logs would drop or reject must fail a test instead.
package emfcheck

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
)

// units are the units the specification allows.
var units = map[string]bool{}

func init() {
	for _, u := range strings.Fields(`Seconds Microseconds Milliseconds Bytes Kilobytes Megabytes Gigabytes Terabytes
		Bits Kilobits Megabits Gigabits Terabits Percent Count Bytes/Second Kilobytes/Second Megabytes/Second
		Gigabytes/Second Terabytes/Second Bits/Second Kilobits/Second Megabits/Second Gigabits/Second
		Terabits/Second Count/Second None`) {
		units[u] = true
	}
}

// Limits of the specification.
const (
	maxMetrics       = 100
	maxDimensionsSet = 30
	maxNameLength    = 1024
	maxValues        = 100
)

// Metrics are the metric values one line reports, by name.
type Metrics map[string]float64

// Validate checks one JSON log line and returns the metrics it reports
// (for the test to check their values) and every rule it breaks.
func Validate(line []byte) (Metrics, []error) {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	var root map[string]json.RawMessage
	if err := json.Unmarshal(line, &root); err != nil {
		return nil, []error{fmt.Errorf("not a JSON object: %v", err)}
	}
	var aws struct {
		Timestamp         *json.Number `json:"Timestamp"`
		CloudWatchMetrics []struct {
			Namespace  *string    `json:"Namespace"`
			Dimensions [][]string `json:"Dimensions"`
			Metrics    []struct {
				Name *string `json:"Name"`
				Unit *string `json:"Unit"`
			} `json:"Metrics"`
		} `json:"CloudWatchMetrics"`
	}
	raw, ok := root["_aws"]
	if !ok {
		return nil, []error{fmt.Errorf("no _aws member")}
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&aws); err != nil {
		return nil, []error{fmt.Errorf("_aws is not an object of the specification's shape: %v", err)}
	}
	if aws.Timestamp == nil {
		fail("_aws.Timestamp is missing")
	} else if ms, err := aws.Timestamp.Int64(); err != nil || ms < 1e12 {
		fail("_aws.Timestamp %v is not milliseconds since the epoch", *aws.Timestamp)
	}
	if len(aws.CloudWatchMetrics) == 0 {
		fail("_aws.CloudWatchMetrics is empty")
	}
	out := Metrics{}
	count := 0
	for i, d := range aws.CloudWatchMetrics {
		if d.Namespace == nil || *d.Namespace == "" || len(*d.Namespace) > maxNameLength || strings.IndexFunc(*d.Namespace, unicode.IsSpace) >= 0 && strings.TrimSpace(*d.Namespace) == "" {
			fail("directive %d: Namespace missing or empty", i)
		}
		if d.Dimensions == nil {
			fail("directive %d: Dimensions missing", i)
		}
		for _, set := range d.Dimensions {
			if len(set) > maxDimensionsSet {
				fail("directive %d: a dimension set of %d (at most %d)", i, len(set), maxDimensionsSet)
			}
			for _, name := range set {
				var v any
				if json.Unmarshal(root[name], &v) != nil {
					fail("dimension %q is not a top-level member", name)
					continue
				}
				if s, ok := v.(string); !ok || s == "" || len(s) > maxNameLength {
					fail("dimension %q is %v, not a non-empty string", name, v)
				}
			}
		}
		if len(d.Metrics) == 0 {
			fail("directive %d: no Metrics", i)
		}
		for _, m := range d.Metrics {
			count++
			if m.Name == nil || *m.Name == "" || len(*m.Name) > maxNameLength {
				fail("directive %d: a metric without a Name", i)
				continue
			}
			if m.Unit != nil && !units[*m.Unit] {
				fail("metric %s: Unit %q is not one the specification allows", *m.Name, *m.Unit)
			}
			var v any
			if json.Unmarshal(root[*m.Name], &v) != nil {
				fail("metric %s is not a top-level member", *m.Name)
				continue
			}
			switch x := v.(type) {
			case float64:
				out[*m.Name] = x
			case []any:
				if len(x) == 0 || len(x) > maxValues {
					fail("metric %s: %d values (1 to %d)", *m.Name, len(x), maxValues)
				}
				for _, e := range x {
					if _, ok := e.(float64); !ok {
						fail("metric %s: a value that is not a number", *m.Name)
					}
				}
			default:
				fail("metric %s is %v, not a number", *m.Name, v)
			}
		}
	}
	if count > maxMetrics {
		fail("%d metrics in one line (at most %d)", count, maxMetrics)
	}
	return out, errs
}
