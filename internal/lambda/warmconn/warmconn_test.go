package warmconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// idleLimit is how long the test servers keep a connection on which no
// request came: far below real servers' (seconds) so that the tests wait
// half a second.
const idleLimit = 200 * time.Millisecond

// afterIdleLimit is how long the tests leave a connection made in advance
// unused: past idleLimit with room for a slow machine.
const afterIdleLimit = idleLimit + 300*time.Millisecond

// server is an HTTP test server that counts connections and requests and,
// with a drop mode, drops each connection on which no request came within
// idleLimit, as servers and load balancers drop idle connections: "fin"
// closes it (for TLS with close_notify first, as http.Server does after its
// ReadHeaderTimeout), "rst" resets it (SetLinger(0), then Close).
type server struct {
	*httptest.Server
	conns, requests atomic.Int32
	dropped         atomic.Int32

	mu     sync.Mutex
	served map[net.Conn]bool // connections that carried a request
}

type connKey struct{}

func newServer(t *testing.T, scheme, drop string) *server {
	t.Helper()
	s := &server{served: map[net.Conn]bool{}}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		s.mu.Lock()
		s.served[r.Context().Value(connKey{}).(net.Conn)] = true
		s.mu.Unlock()
		io.ReadAll(r.Body)
		w.Header().Set("X-Proto", r.Proto)
		io.WriteString(w, `{"ok":true}`)
	}))
	// The same net.Conn reaches ConnContext, ConnState and (through the
	// request's context, also for HTTP/2) the handler.
	s.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, connKey{}, c)
	}
	s.Config.ConnState = func(c net.Conn, st http.ConnState) {
		if st != http.StateNew {
			return
		}
		s.conns.Add(1)
		if drop == "" {
			return
		}
		time.AfterFunc(idleLimit, func() {
			s.mu.Lock()
			served := s.served[c]
			s.mu.Unlock()
			if served {
				return
			}
			s.dropped.Add(1)
			if drop == "rst" {
				tcp(c).SetLinger(0)
				tcp(c).Close()
				return
			}
			c.Close()
		})
	}
	switch scheme {
	case "http":
		s.Start()
	case "https", "h2":
		s.EnableHTTP2 = scheme == "h2"
		s.StartTLS()
	default:
		t.Fatalf("scheme %q", scheme)
	}
	t.Cleanup(s.Close)
	return s
}

func tcp(c net.Conn) *net.TCPConn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	return c.(*net.TCPConn)
}

// client returns a Dialer for s installed in a transport that speaks
// HTTP/2 when the server offers it (the functions' clients speak HTTP/1.1
// only, internal/lambda/outbound; the Dialer serves both), and the client
// on it.
func (s *server) client(t *testing.T) (*Dialer, *http.Client) {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ForceAttemptHTTP2 = true
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if s.Certificate() != nil {
		tr.TLSClientConfig.RootCAs = x509.NewCertPool()
		tr.TLSClientConfig.RootCAs.AddCert(s.Certificate())
	}
	u, _ := url.Parse(s.URL)
	d := New(u, tr.TLSClientConfig)
	d.Install(tr)
	t.Cleanup(tr.CloseIdleConnections)
	return d, &http.Client{Transport: tr}
}

// post POSTs through c and returns the protocol the server saw.
func post(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	res, err := c.Post(url+"/v1/clients", "application/json", strings.NewReader(`{"type":"person"}`))
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer res.Body.Close()
	io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("POST: status %d", res.StatusCode)
	}
	return res.Header.Get("X-Proto")
}

func wantProto(scheme string) string {
	if scheme == "h2" {
		return "HTTP/2.0"
	}
	return "HTTP/1.1"
}

// TestServerDroppedTheConnection: the server closed or reset the
// connection made in advance while it was idle (for h2 after sending its
// SETTINGS, which are still unread in the socket); the request notices
// before sending anything, dials again, and the server sees exactly one
// request, on a fresh connection.
func TestServerDroppedTheConnection(t *testing.T) {
	for _, scheme := range []string{"http", "https", "h2"} {
		for _, drop := range []string{"fin", "rst"} {
			t.Run(scheme+"/"+drop, func(t *testing.T) {
				t.Parallel() // the waits overlap
				s := newServer(t, scheme, drop)
				d, c := s.client(t)
				if err := d.Start(context.Background())(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(afterIdleLimit)
				if s.dropped.Load() != 1 {
					t.Fatalf("the server dropped %d connections before the request, want 1", s.dropped.Load())
				}
				if proto := post(t, c, s.URL); proto != wantProto(scheme) {
					t.Errorf("protocol %s, want %s", proto, wantProto(scheme))
				}
				if n := s.requests.Load(); n != 1 {
					t.Errorf("the server saw %d requests, want 1", n)
				}
				if n := s.conns.Load(); n != 2 {
					t.Errorf("%d connections, want 2 (the one made in advance, then a fresh one)", n)
				}
				if st := d.Stats(); st != (Stats{Closed: 1}) {
					t.Errorf("stats %+v, want the connection made in advance found closed", st)
				}
			})
		}
	}
}

// TestOpenConnectionIsUsed: a connection made in advance that the server
// keeps open carries the first request, also when the server has sent
// bytes on it already (an HTTP/2 server's SETTINGS) that the check must
// leave for the TLS and HTTP/2 layers.
func TestOpenConnectionIsUsed(t *testing.T) {
	for _, scheme := range []string{"http", "https", "h2"} {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, scheme, "")
			d, c := s.client(t)
			if err := d.Start(context.Background())(); err != nil {
				t.Fatal(err)
			}
			if scheme == "h2" {
				// The server's SETTINGS follow the handshake. (Go's TLS
				// 1.3 server sends its session tickets in the handshake's
				// last flight, which the handshake may read along.)
				waitForServerBytes(t, d)
			}
			for i := 0; i < 3; i++ {
				if proto := post(t, c, s.URL); proto != wantProto(scheme) {
					t.Errorf("protocol %s, want %s", proto, wantProto(scheme))
				}
			}
			if n := s.conns.Load(); n != 1 {
				t.Errorf("%d connections for the one made in advance and 3 requests, want 1", n)
			}
			if st := d.Stats(); st != (Stats{Used: 1}) {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestWhileInProgress: a request that starts while the connection in
// advance is still being made waits for it rather than dialing a second.
func TestWhileInProgress(t *testing.T) {
	for _, scheme := range []string{"http", "h2"} {
		s := newServer(t, scheme, "")
		d, c := s.client(t)
		d.Start(context.Background()) // not waited for
		post(t, c, s.URL)
		if n := s.conns.Load(); n != 1 {
			t.Errorf("%s: %d connections", scheme, n)
		}
		if st := d.Stats(); st != (Stats{Used: 1}) {
			t.Errorf("%s: stats %+v", scheme, st)
		}
	}
}

// TestStale: a connection made more than MaxAge ago is not used, open or
// not.
func TestStale(t *testing.T) {
	s := newServer(t, "http", "")
	d, c := s.client(t)
	d.Start(context.Background())()
	d.now = func() time.Time { return time.Now().Add(MaxAge + time.Second) }
	post(t, c, s.URL)
	if n := s.conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (the stale one dropped)", n)
	}
	if st := d.Stats(); st != (Stats{Stale: 1}) {
		t.Errorf("stats %+v", st)
	}
}

// TestStartTwice: a second Start while the first connection is unused
// dials nothing more; once it was used, Start makes a new one.
func TestStartTwice(t *testing.T) {
	s := newServer(t, "http", "")
	d, c := s.client(t)
	d.Start(context.Background())()
	d.Start(context.Background())()
	post(t, c, s.URL)
	if n := s.conns.Load(); n != 1 {
		t.Fatalf("%d connections after two Starts and a request, want 1", n)
	}
	if err := d.Start(context.Background())(); err != nil {
		t.Fatal(err)
	}
	// The server counts a connection once it has accepted it, a moment
	// after the dial returned.
	for deadline := time.Now().Add(2 * time.Second); s.conns.Load() < 2 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if n := s.conns.Load(); n != 2 {
		t.Errorf("%d connections after Start, request, Start; want 2", n)
	}
}

// TestOffersOnlyWhatTheTransportSpeaks: a transport that does not speak
// HTTP/2 gets a connection on which the server did not choose HTTP/2,
// which it could not read.
func TestOffersOnlyWhatTheTransportSpeaks(t *testing.T) {
	s := newServer(t, "h2", "")
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool()}}
	tr.TLSClientConfig.RootCAs.AddCert(s.Certificate())
	u, _ := url.Parse(s.URL)
	d := New(u, tr.TLSClientConfig)
	d.Install(tr)
	defer tr.CloseIdleConnections()
	if err := d.Start(context.Background())(); err != nil {
		t.Fatal(err)
	}
	if proto := post(t, &http.Client{Transport: tr}, s.URL); proto != "HTTP/1.1" {
		t.Errorf("protocol %s, want HTTP/1.1", proto)
	}
	if st := d.Stats(); st != (Stats{Used: 1}) {
		t.Errorf("stats %+v", st)
	}
}

// TestProxyInTheWay: with a proxy for the server, nothing is dialled in
// advance and the transport's dialers are left alone.
func TestProxyInTheWay(t *testing.T) {
	s := newServer(t, "http", "")
	tr := &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: "127.0.0.1:1"})}
	u, _ := url.Parse(s.URL)
	d := New(u, nil)
	d.Install(tr)
	if tr.DialContext != nil || tr.DialTLSContext != nil {
		t.Error("dialers installed although a proxy is in the way")
	}
	if err := d.Start(context.Background())(); err != nil {
		t.Fatal(err)
	}
	if n := s.conns.Load(); n != 0 {
		t.Errorf("%d connections made in advance", n)
	}
}

// TestDialFailure: a server that cannot be reached at start is an error
// of wait, and no connection is kept.
func TestDialFailure(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	d := New(&url.URL{Scheme: "http", Host: addr}, nil)
	d.Install(&http.Transport{})
	if err := d.Start(context.Background())(); err == nil {
		t.Fatal("dial to a closed port succeeded")
	}
	if c := d.take(context.Background(), addr); c != nil {
		t.Error("a connection is kept after a failed dial")
	}
}

// waitForServerBytes waits until bytes the server sent after the TLS
// handshake (HTTP/2 SETTINGS) are queued, unread, on the
// connection made in advance, so that the test sees the check leave them
// there. Where the queue cannot be read it waits a moment instead.
func waitForServerBytes(t *testing.T, d *Dialer) {
	t.Helper()
	d.mu.Lock()
	conn := d.conn
	d.mu.Unlock()
	if conn == nil {
		t.Fatal("no connection made in advance")
	}
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		n, ok := queued(t, conn)
		if !ok {
			time.Sleep(100 * time.Millisecond)
			return
		}
		if n > 0 {
			return
		}
	}
	t.Fatal("the server sent nothing after the handshake")
}
