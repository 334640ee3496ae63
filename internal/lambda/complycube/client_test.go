package complycube

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer counts the TCP connections a test server accepts.
func countingServer(t *testing.T, tlsOn, h2 bool, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	if tlsOn {
		srv.EnableHTTP2 = h2
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, &conns
}

func pool(srv *httptest.Server) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(srv.Certificate())
	return p
}

var ok = func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Proto", r.Proto)
	io.WriteString(w, `{"redirectUrl":"https://id.example/x"}`)
}

// TestPrewarmIsUsedByTheFirstCall: the connection made in advance (TLS
// handshake included) carries the first call; no second connection; with
// a server that offers HTTP/2 too.
func TestPrewarmIsUsedByTheFirstCall(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		var proto atomic.Value
		srv, conns := countingServer(t, true, h2, func(w http.ResponseWriter, r *http.Request) {
			proto.Store(r.Proto)
			ok(w, r)
		})
		c, err := New(Config{BaseURL: srv.URL, RootCAs: pool(srv)})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Prewarm(context.Background())(); err != nil {
			t.Fatal(err)
		}
		if n := conns.Load(); n != 1 {
			t.Fatalf("h2=%v: %d connections after prewarm", h2, n)
		}
		for i := 0; i < 3; i++ {
			res, err := c.CreateFlowSession(context.Background(), "test_k", []byte(`{}`))
			if err != nil || res.Status != 200 {
				t.Fatalf("call: %v %+v", err, res)
			}
		}
		if n := conns.Load(); n != 1 {
			t.Errorf("h2=%v: %d connections for prewarm and 3 calls, want 1 (kept alive)", h2, n)
		}
		// HTTP/1.1 even when the server offers HTTP/2 (outbound.Transport).
		if got := proto.Load(); got != "HTTP/1.1" {
			t.Errorf("h2=%v: protocol %v, want HTTP/1.1", h2, got)
		}
	}
}

// TestPrewarmWhileInProgress: a call that starts while the connection in
// advance is still being made waits for it rather than dialing a second.
func TestPrewarmWhileInProgress(t *testing.T) {
	srv, conns := countingServer(t, false, false, ok)
	c, _ := New(Config{BaseURL: srv.URL})
	c.Prewarm(context.Background()) // not waited for
	if _, err := c.CreateFlowSession(context.Background(), "k", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if n := conns.Load(); n > 1 {
		t.Errorf("%d connections", n)
	}
}

// TestPrewarmFailureIsHarmless: when the API is down at init, the first
// call dials as usual.
func TestPrewarmFailureIsHarmless(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	c, _ := New(Config{BaseURL: "http://" + addr})
	if err := c.Prewarm(context.Background())(); err == nil {
		t.Fatal("prewarm to a closed port succeeded")
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skip("port taken meanwhile")
	}
	srv := &http.Server{Handler: http.HandlerFunc(ok)}
	go srv.Serve(l)
	defer srv.Close()
	if res, err := c.CreateFlowSession(context.Background(), "k", []byte(`{}`)); err != nil || res.Status != 200 {
		t.Fatalf("%v %+v", err, res)
	}
}

// TestUntrustedCertificate: a TLS certificate that does not verify is
// refused, for the connection in advance and for calls; the key is never
// sent.
func TestUntrustedCertificate(t *testing.T) {
	var got atomic.Int32
	srv, _ := countingServer(t, true, false, func(w http.ResponseWriter, r *http.Request) { got.Add(1) })
	c, _ := New(Config{BaseURL: srv.URL}) // system roots: the test CA is unknown
	if err := c.Prewarm(context.Background())(); err == nil {
		t.Error("prewarm trusted an unknown certificate")
	}
	res, err := c.CreateFlowSession(context.Background(), "test_secret", []byte(`{}`))
	var uerr x509.UnknownAuthorityError
	if err == nil || !errors.As(err, &uerr) {
		t.Errorf("call: %v %+v, want an unknown-authority error", err, res)
	}
	if res.Attempts != 1 {
		t.Errorf("a certificate failure was retried (%d attempts)", res.Attempts)
	}
	if got.Load() != 0 {
		t.Error("the server received a request")
	}
}

// TestCallBehaviour covers the client's own rules.
func TestCallBehaviour(t *testing.T) {
	var calls atomic.Int32
	srv, _ := countingServer(t, false, false, func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Header.Get("Authorization") != "test_k" || r.Header.Get("Content-Type") != "application/json" || r.URL.Path != "/v1/flow/sessions" {
			w.WriteHeader(400)
			return
		}
		if n == 1 {
			w.WriteHeader(503)
			return
		}
		ok(w, r)
	})
	c, _ := New(Config{BaseURL: srv.URL + "/"})
	res, err := c.CreateFlowSession(context.Background(), "test_k", []byte(`{}`))
	if err != nil || res.Status != 200 || res.Attempts != 2 {
		t.Fatalf("503 then 200: %v %+v", err, res)
	}
	if c.Endpoint() != srv.URL+"/v1/flow/sessions" {
		t.Errorf("endpoint %s", c.Endpoint())
	}
	if _, err := New(Config{BaseURL: "api.complycube.com"}); err == nil {
		t.Error("a base URL without scheme accepted")
	}
}

// TestTimeoutIsNotRetried: ErrTimeout after the attempt timeout, one call.
func TestTimeoutIsNotRetried(t *testing.T) {
	var calls atomic.Int32
	srv, _ := countingServer(t, false, false, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		io.ReadAll(r.Body) // the server notices the client leaving only once the body is read
		<-r.Context().Done()
	})
	c, _ := New(Config{BaseURL: srv.URL, Timeout: 100 * time.Millisecond})
	start := time.Now()
	_, err := c.CreateFlowSession(context.Background(), "k", []byte(`{}`))
	if !errors.Is(err, ErrTimeout) || calls.Load() != 1 || time.Since(start) > 3*time.Second {
		t.Errorf("%v after %d calls", err, calls.Load())
	}
	if strings.Contains(err.Error(), srv.URL) {
		t.Error("the error names the endpoint's address")
	}
}

// resetAfterReading reads the whole request, then resets the connection
// without an answer: the request reached ComplyCube, which may have acted.
func resetAfterReading(calls *atomic.Int32) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		io.ReadAll(r.Body)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	}
}

// TestClientCreationIsNeverRetriedOnceSent: a client creation whose
// request reached ComplyCube is not sent again, whatever came back (a
// reset after the request was read, a 5xx, a timeout), so no second client
// is made; the same faults on a session call are retried.
func TestClientCreationIsNeverRetriedOnceSent(t *testing.T) {
	faults := map[string]func(*atomic.Int32) http.HandlerFunc{
		"reset after the request was read": resetAfterReading,
		"500": func(calls *atomic.Int32) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				io.ReadAll(r.Body)
				w.WriteHeader(500)
			}
		},
	}
	for name, fault := range faults {
		t.Run(name, func(t *testing.T) {
			var calls atomic.Int32
			srv, _ := countingServer(t, false, false, fault(&calls))
			c, _ := New(Config{BaseURL: srv.URL})
			res, err := c.CreateClient(context.Background(), "test_k", []byte(`{"type":"person"}`))
			if calls.Load() != 1 || res.Attempts != 1 {
				t.Errorf("client creation: %d requests reached the server, %d attempts (%v %+v); want 1", calls.Load(), res.Attempts, err, res)
			}
			calls.Store(0)
			res, _ = c.CreateFlowSession(context.Background(), "test_k", []byte(`{}`))
			if calls.Load() != 2 || res.Attempts != 2 {
				t.Errorf("session call: %d requests, %d attempts; want the retry", calls.Load(), res.Attempts)
			}
		})
	}
	t.Run("timeout", func(t *testing.T) {
		var calls atomic.Int32
		srv, _ := countingServer(t, false, false, func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			io.ReadAll(r.Body)
			<-r.Context().Done()
		})
		c, _ := New(Config{BaseURL: srv.URL, Timeout: 100 * time.Millisecond})
		if _, err := c.CreateClient(context.Background(), "k", []byte(`{}`)); !errors.Is(err, ErrTimeout) || calls.Load() != 1 {
			t.Errorf("%v after %d calls", err, calls.Load())
		}
	})
}

// TestClientCreationRetriedWhenNeverSent: when no connection could be
// made, the request surely did not reach ComplyCube, and one retry is
// made.
func TestClientCreationRetriedWhenNeverSent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: every dial is refused
	c, _ := New(Config{BaseURL: "http://" + addr})
	res, err := c.CreateClient(context.Background(), "k", []byte(`{}`))
	if err == nil || res.Attempts != 2 {
		t.Errorf("refused connection: %v, %d attempts; want a retry", err, res.Attempts)
	}
}

// TestClientsPath: client creations go to /v1/clients with the key and
// JSON content type.
func TestClientsPath(t *testing.T) {
	var got atomic.Value
	srv, _ := countingServer(t, false, false, func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Method + " " + r.URL.Path + " " + r.Header.Get("Authorization") + " " + r.Header.Get("Content-Type"))
		io.WriteString(w, `{"id":"5eb04fcd0f3e360008035eb1"}`)
	})
	c, _ := New(Config{BaseURL: srv.URL + "/"})
	if res, err := c.CreateClient(context.Background(), "test_k", []byte(`{}`)); err != nil || res.Status != 200 {
		t.Fatal(err, res)
	}
	if got.Load() != "POST /v1/clients test_k application/json" {
		t.Errorf("sent %v", got.Load())
	}
}
