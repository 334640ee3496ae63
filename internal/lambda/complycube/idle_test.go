package complycube

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// serverIdleLimit is how long the idle-dropping test server keeps a
// connection that sends no request: far below real servers' (seconds) so
// that the tests wait half a second.
const serverIdleLimit = 200 * time.Millisecond

// idleDroppingServer is ComplyCube (or the load balancer in front of it)
// closing each connection on which no request came within serverIdleLimit,
// as the dev server's simulator does after its ReadHeaderTimeout (and, for
// HTTP/2, after the SETTINGS it sent on the connection). It counts
// connections, requests and dropped connections; it answers a client
// creation with an id and a session with a redirect URL.
func idleDroppingServer(t *testing.T, tlsOn, h2 bool) (srv *httptest.Server, conns, requests, dropped *atomic.Int32) {
	conns, requests, dropped = new(atomic.Int32), new(atomic.Int32), new(atomic.Int32)
	type connKey struct{}
	var mu sync.Mutex
	served := map[net.Conn]bool{}
	srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		mu.Lock()
		served[r.Context().Value(connKey{}).(net.Conn)] = true
		mu.Unlock()
		io.ReadAll(r.Body)
		if r.URL.Path == ClientsPath {
			io.WriteString(w, `{"id":"5eb04fcd0f3e360008035eb1"}`)
			return
		}
		io.WriteString(w, `{"redirectUrl":"https://id.example/x"}`)
	}))
	// The same net.Conn reaches ConnContext, ConnState and (through the
	// request's context, also for HTTP/2) the handler.
	srv.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, connKey{}, c)
	}
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s != http.StateNew {
			return
		}
		conns.Add(1)
		time.AfterFunc(serverIdleLimit, func() {
			mu.Lock()
			defer mu.Unlock()
			if !served[c] {
				dropped.Add(1)
				c.Close()
			}
		})
	}
	if tlsOn {
		srv.EnableHTTP2 = h2
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, conns, requests, dropped
}

// TestWarmConnectionClosedByTheServer: the server dropped the connection
// made in advance before the first call; the call notices before sending
// anything, dials again and succeeds in one attempt, with exactly one
// request at the server: a client creation, which is never retried once
// sent, and a session.
func TestWarmConnectionClosedByTheServer(t *testing.T) {
	servers := []struct {
		name      string
		tlsOn, h2 bool
	}{{"http", false, false}, {"https", true, false}, {"h2", true, true}}
	calls := []struct {
		name string
		call func(*Client, context.Context, string, []byte) (Response, error)
	}{{"client creation", (*Client).CreateClient}, {"session", (*Client).CreateFlowSession}}
	for _, s := range servers {
		for _, c := range calls {
			t.Run(s.name+"/"+c.name, func(t *testing.T) {
				t.Parallel() // the waits overlap
				srv, conns, requests, dropped := idleDroppingServer(t, s.tlsOn, s.h2)
				cfg := Config{BaseURL: srv.URL}
				if s.tlsOn {
					cfg.RootCAs = pool(srv)
				}
				client, err := New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				if err := client.Prewarm(context.Background())(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(serverIdleLimit + 300*time.Millisecond) // the server drops it meanwhile
				if n := dropped.Load(); n != 1 {
					t.Fatalf("the server dropped %d connections before the call, want 1", n)
				}
				res, err := c.call(client, context.Background(), "test_k", []byte(`{}`))
				if err != nil || res.Status != 200 || res.Attempts != 1 {
					t.Fatalf("call after the server dropped the connection made in advance: %v %+v", err, res)
				}
				if n := requests.Load(); n != 1 {
					t.Errorf("%d requests reached the server, want 1", n)
				}
				if n := conns.Load(); n != 2 {
					t.Errorf("%d connections, want 2 (the one made in advance, then a fresh one)", n)
				}
			})
		}
	}
}
