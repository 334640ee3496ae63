package devlog

import (
	"bytes"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/complycube-session/createsession/handler/api"
)

func TestOneShortLinePerRequest(t *testing.T) {
	var buf bytes.Buffer
	r := New(&buf)
	r.now = func() time.Time { return time.Date(2026, 12, 1, 14, 3, 7, 0, time.UTC) }
	r.Write(&api.Record{Request: api.Request{Method: "POST", Path: "/sessions"}, Status: 200, Took: 41 * time.Millisecond,
		Attrs:   []slog.Attr{slog.String("createdClientId", "abc"), slog.String("origin", "http://x")},
		Metrics: &api.Metrics{Schema: api.NewMetricSchema(), Values: nil}})
	r.Write(&api.Record{Request: api.Request{Method: "POST", Path: "/sessions"}, Status: 502, Took: 5003 * time.Millisecond, ErrType: "upstream_error", Cause: errors.New("post /v1/clients:\nEOF")})
	r.Write(&api.Record{Status: 405, Took: 200 * time.Microsecond})
	want := "14:03:07 POST /sessions 200 41ms createdClientId=abc\n" +
		"14:03:07 POST /sessions 502 5003ms upstream_error: post /v1/clients: EOF\n" +
		"14:03:07 - - 405 0.2ms\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}
