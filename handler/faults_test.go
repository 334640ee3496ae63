package handler_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Faults of ComplyCube not covered by TestComplyCubeAnswers: each answer
// must be one the contract allows, never a Lambda error, never late.

// reset closes the connection without an answer, after reading the request.
func reset(w http.ResponseWriter, r *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	conn.(*net.TCPConn).SetLinger(0) // RST, not FIN
	conn.Close()
}

// resetMidBody sends headers and half a body, then resets.
func resetMidBody(w http.ResponseWriter, r *http.Request) {
	conn, buf, _ := w.(http.Hijacker).Hijack()
	buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"redirectUrl\":\"https://id.compl")
	buf.Flush()
	conn.(*net.TCPConn).SetLinger(0)
	conn.Close()
}

func TestComplyCubeFaults(t *testing.T) {
	ok := `{"redirectUrl":"` + sessionURL + `"}`
	huge := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		chunk := []byte(strings.Repeat("x", 64<<10))
		w.Write([]byte(`{"redirectUrl":"` + sessionURL + `","pad":"`))
		for i := 0; i < 20<<20/len(chunk); i++ { // 20 MB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		w.Write([]byte(`"}`))
	}
	tests := []struct {
		name    string
		replies []http.HandlerFunc
		status  int
		body    string
		calls   int
	}{
		{"reset before answering, twice", []http.HandlerFunc{reset}, 502, upstreamError, 2},
		{"reset before answering, then success", []http.HandlerFunc{reset, redirectOK(sessionURL)}, 200, ok, 2},
		{"reset in the middle of the body, twice", []http.HandlerFunc{resetMidBody}, 502, upstreamError, 2},
		{"reset in the middle of the body, then success", []http.HandlerFunc{resetMidBody, redirectOK(sessionURL)}, 200, ok, 2},
		{"20 MB answer", []http.HandlerFunc{huge}, 502, upstreamError, 1},
		{"500 then success", []http.HandlerFunc{reply(500, `{"type":"internal_server_error"}`), redirectOK(sessionURL)}, 200, ok, 2},
		{"502 then success", []http.HandlerFunc{reply(502, `<html>Bad Gateway</html>`), redirectOK(sessionURL)}, 200, ok, 2},
		{"503 then success", []http.HandlerFunc{reply(503, ``, "Retry-After", "1"), redirectOK(sessionURL)}, 200, ok, 2},
		{"an empty 200", []http.HandlerFunc{reply(200, ``)}, 502, upstreamError, 1},
		{"a redirectUrl that is an object", []http.HandlerFunc{reply(200, `{"redirectUrl":{"href":"https://x"}}`)}, 502, upstreamError, 1},
		{"two redirectUrls", []http.HandlerFunc{reply(200, `{"redirectUrl":"https://a.example/","redirectUrl":"https://b.example/"}`)}, 502, upstreamError, 1},
		{"a redirectUrl with a newline", []http.HandlerFunc{reply(200, `{"redirectUrl":"https://id.complycube.com/x\r\nSet-Cookie: a=b"}`)}, 502, upstreamError, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{secret: apiKey, replies: tc.replies})
			start := time.Now()
			a := f.invoke(post(validBody))
			if a.Status != tc.status || a.Body != tc.body {
				t.Fatalf("got %d %s, want %d %s", a.Status, a.Body, tc.status, tc.body)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %v", took)
			}
			checkCommon(t, a, allowed)
			if n := len(f.cc.Calls()); n != tc.calls {
				t.Errorf("%d calls, want %d", n, tc.calls)
			}
		})
	}
}

// TestComplyCubeUntrustedCertificate: a TLS certificate that does not verify
// is refused (502), not retried, and the key never reaches that server.
func TestComplyCubeUntrustedCertificate(t *testing.T) {
	var got atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		io.WriteString(w, `{"redirectUrl":"https://phish.example/"}`)
	}))
	defer srv.Close()
	srv.Config.ErrorLog = nil
	f := newFixture(t, fixtureOpts{secret: apiKey, env: map[string]string{"COMPLYCUBE_BASE_URL": srv.URL}})
	a := f.invoke(post(validBody))
	if a.Status != 502 || a.Body != upstreamError {
		t.Fatalf("got %d %s", a.Status, a.Body)
	}
	if got.Load() != 0 {
		t.Error("a request reached the server with the untrusted certificate")
	}
	l := f.lastRequestLog()
	if !strings.Contains(l["cause"].(string), "certificate") || l["complycubeAttempts"] != float64(1) {
		t.Errorf("log %v", l)
	}
}
