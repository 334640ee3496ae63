// Package devlog writes the dev server's log for a person at a terminal:
// one short line per request (time, method, path, status, milliseconds,
// and the error's type and cause when there is one), instead of the JSON
// line with embedded metrics that CloudWatch reads on Lambda.
package devlog

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/complycube-session/createsession/handler/api"
)

// Requests writes records as short lines to W.
type Requests struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
}

// New returns a Requests writing to w.
func New(w io.Writer) *Requests {
	return &Requests{w: w, now: time.Now}
}

// Write writes one line, e.g.
//
//	14:03:07 POST /sessions 200 41ms
//	14:03:09 POST /sessions 400 0.2ms invalid_request
//	14:03:12 POST /sessions 502 5003ms upstream_error: post /v1/clients: EOF
func (r *Requests) Write(rec *api.Record) {
	var b strings.Builder
	b.WriteString(r.now().Format("15:04:05"))
	b.WriteByte(' ')
	b.WriteString(orDash(rec.Request.Method))
	b.WriteByte(' ')
	b.WriteString(orDash(rec.Request.Path))
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(rec.Status))
	b.WriteByte(' ')
	b.WriteString(millis(rec.Took))
	if rec.ErrType != "" {
		b.WriteByte(' ')
		b.WriteString(rec.ErrType)
	}
	if rec.Cause != nil {
		if rec.ErrType == "" {
			b.WriteByte(' ')
		} else {
			b.WriteString(": ")
		}
		b.WriteString(oneLine(rec.Cause.Error()))
	}
	for _, a := range rec.Attrs {
		if interesting[a.Key] {
			fmt.Fprintf(&b, " %s=%s", a.Key, a.Value.String())
		}
	}
	b.WriteByte('\n')
	r.mu.Lock()
	defer r.mu.Unlock()
	io.WriteString(r.w, b.String())
}

// interesting are the members worth a glance in a terminal: what a
// request created or was refused for; the rest is in the -log json line.
var interesting = map[string]bool{
	"createdClientId":    true,
	"invitationClientId": true,
	"eventType":          true,
	"duplicate":          true,
	"refusedFor":         true,
}

func millis(d time.Duration) string {
	ms := float64(d.Microseconds()) / 1000
	if ms < 10 {
		return strconv.FormatFloat(ms, 'f', 1, 64) + "ms"
	}
	return strconv.FormatFloat(ms, 'f', 0, 64) + "ms"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps a cause on its line.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

// NewLogger is the dev server's logger for everything else (start-up lines,
// warnings): slog's text format without the time, which the terminal's
// request lines already show.
func NewLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
}
