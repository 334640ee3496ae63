// Package warmconn opens one connection to a server in advance (TCP, and
// TLS for https) and hands it to an http.Transport for its first request,
// so that a Lambda cold start pays for the handshakes while it does other
// init work (reading a secret), not after the first request arrived.
//
// A connection made in advance has carried no request yet, so a server may
// drop it as idle before the first request comes (servers and load
// balancers close connections that send no request within a few seconds,
// and Lambda may initialise an instance long before its first request).
// Go's transport retries a request on a broken connection only when the
// connection had been used before, so a dead connection handed over here
// would fail the first request, even one that must never be retried once
// sent (a POST that creates something). Before handing the connection over
// the Dialer therefore asks the kernel whether the server has closed or
// reset it, without reading from it (see alive), and dials afresh when it
// has: nothing was sent on it, so nothing is lost. (A server that closes
// the connection in the microseconds between the check and the request
// still fails that request; the case this guards against, a connection
// idle for seconds or minutes, is closed long before.)
//
// Use it as: d := New(base, tlsConfig); d.Install(transport); wait :=
// d.Start(ctx).
package warmconn

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"syscall"
	"time"
)

// MaxAge is how long a connection made in advance stays worth handing out;
// after that the first request dials afresh. The liveness check sees a
// server's FIN or RST; it cannot see a connection that a middlebox
// forgot without telling either end, and this bounds that case: it is
// under the idle timeouts of common load balancers (60 s).
const MaxAge = 50 * time.Second

// Stats counts what became of connections made in advance.
type Stats struct {
	Used   int // handed to the transport for a request
	Closed int // found closed or reset by the server before use: dropped, and dialled again
	Stale  int // older than MaxAge when first wanted: dropped, and dialled again
}

// Dialer makes one connection in advance to one server and dials every
// other connection the transport asks for as usual.
type Dialer struct {
	addr      string      // host:port of the server
	tlsConfig *tls.Config // nil for http
	dialer    net.Dialer
	now       func() time.Time // tests move the clock

	mu       sync.Mutex
	disabled bool          // a proxy is in the way: nothing is dialled in advance
	pending  chan struct{} // closed when the dial in advance finishes
	conn     net.Conn      // the connection made in advance, until it is taken
	madeAt   time.Time
	stats    Stats
}

// New returns a Dialer for the server of base (scheme http or https; the
// port defaults to the scheme's). tlsConfig (may be nil) is cloned; its
// ServerName is set to base's host.
func New(base *url.URL, tlsConfig *tls.Config) *Dialer {
	port := base.Port()
	if port == "" {
		port = "443"
		if base.Scheme == "http" {
			port = "80"
		}
	}
	d := &Dialer{
		addr:   net.JoinHostPort(base.Hostname(), port),
		now:    time.Now,
		dialer: net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second},
	}
	if base.Scheme == "https" {
		if tlsConfig == nil {
			tlsConfig = &tls.Config{}
		}
		d.tlsConfig = tlsConfig.Clone()
		d.tlsConfig.ServerName = base.Hostname()
	}
	return d
}

// Install makes t use the connection made in advance for its first dial to
// the server: as its TLS dialer for https (the connection is already a TLS
// one), as its plain dialer for http. Every other dial goes on as usual.
// Call it once t is configured and before Start: it offers, in the TLS
// handshake, exactly the protocols t will speak (HTTP/2 only if t does), so
// that the server never picks one the transport cannot use. When t sends
// requests for the server through a proxy, Install leaves t alone and
// Start dials nothing: the connection would go to the wrong place.
func (d *Dialer) Install(t *http.Transport) {
	if t.Proxy != nil {
		if proxy, err := t.Proxy(&http.Request{URL: &url.URL{Scheme: d.scheme(), Host: d.addr}}); err != nil || proxy != nil {
			d.mu.Lock()
			d.disabled = true
			d.mu.Unlock()
			return
		}
	}
	if d.tlsConfig == nil {
		t.DialContext = d.DialContext
		return
	}
	// The dialer first: a custom TLS dialer is one of the things the
	// transport weighs when it decides on HTTP/2.
	t.DialTLSContext = d.DialContext
	protos := nextProtos(t)
	d.mu.Lock()
	d.tlsConfig.NextProtos = protos
	d.mu.Unlock()
}

// nextProtos returns the ALPN protocols that t speaks over TLS. The
// transport works out whether it speaks HTTP/2 (Protocols,
// ForceAttemptHTTP2, TLSNextProto, GODEBUG=http2client) once, on its first
// use; CloseIdleConnections, harmless on a transport that has none, makes
// it do so now, after which TLSNextProto says.
func nextProtos(t *http.Transport) []string {
	t.CloseIdleConnections()
	var protos []string
	if t.TLSNextProto["h2"] != nil {
		protos = append(protos, "h2")
	}
	if t.Protocols == nil || t.Protocols.HTTP1() {
		protos = append(protos, "http/1.1")
	}
	return protos
}

func (d *Dialer) scheme() string {
	if d.tlsConfig != nil {
		return "https"
	}
	return "http"
}

// Start begins dialing in advance, in the background; a request that needs
// a connection meanwhile waits for this one rather than dialing a second.
// wait returns the dial's error: a failure only means that the first
// request dials as usual, so it is worth logging, not more. Start does
// nothing while a connection made in advance is pending or unused.
func (d *Dialer) Start(ctx context.Context) (wait func() error) {
	d.mu.Lock()
	if d.disabled || d.pending != nil || d.conn != nil {
		d.mu.Unlock()
		return func() error { return nil }
	}
	done := make(chan struct{})
	d.pending = done
	d.mu.Unlock()
	var err error
	go func() {
		var conn net.Conn
		conn, err = d.dial(ctx, "tcp", d.addr)
		d.mu.Lock()
		if err == nil {
			d.conn, d.madeAt = conn, d.now()
		}
		d.pending = nil
		d.mu.Unlock()
		close(done)
	}()
	return func() error {
		<-done
		return err
	}
}

// Stats returns what became of the connections made in advance so far.
func (d *Dialer) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// DialContext is the transport's dial function: the connection made in
// advance when addr is the server's and it is still open, else a new
// connection (TLS, handshake done, for https).
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if c := d.take(ctx, addr); c != nil {
		return c, nil
	}
	return d.dial(ctx, network, addr)
}

// take returns the connection made in advance for addr, waiting for a dial
// in progress, or nil when there is none worth using.
func (d *Dialer) take(ctx context.Context, addr string) net.Conn {
	if addr != d.addr {
		return nil
	}
	d.mu.Lock()
	pending := d.pending
	d.mu.Unlock()
	if pending != nil {
		select {
		case <-pending:
		case <-ctx.Done():
			return nil
		}
	}
	d.mu.Lock()
	conn, madeAt := d.conn, d.madeAt
	d.conn = nil
	d.mu.Unlock()
	if conn == nil {
		return nil
	}
	stale := d.now().Sub(madeAt) > MaxAge
	dead := !stale && alive(conn) == closed
	d.mu.Lock()
	switch {
	case stale:
		d.stats.Stale++
	case dead:
		d.stats.Closed++
	default:
		d.stats.Used++
	}
	d.mu.Unlock()
	if stale || dead {
		// Nothing was ever sent on it: closing it loses nothing.
		conn.Close()
		return nil
	}
	return conn
}

// dial makes a connection: TLS, handshake done, when the server is https.
func (d *Dialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	raw, err := d.dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if d.tlsConfig == nil {
		return raw, nil
	}
	d.mu.Lock()
	cfg := d.tlsConfig.Clone()
	d.mu.Unlock()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		cfg.ServerName = host
	}
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
	}
	return tc, nil
}

// liveness is what the kernel says of a connection.
type liveness int

const (
	unknown liveness = iota // not a socket, or the platform cannot tell: the age limit alone applies
	open                    // established: the server has neither closed nor reset it
	closed                  // the server closed (FIN) or reset (RST) it
)

// alive reports whether the server has closed conn, without reading from
// it: the TLS layer must see every byte the server sent (session tickets,
// an HTTP/2 server's SETTINGS), so a read on the tls.Conn, or one that
// consumes from the socket, would break the connection it is checking. The
// answer comes from the TCP socket under any TLS layer (socketState, per
// platform).
func alive(conn net.Conn) liveness {
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return unknown
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return unknown
	}
	return socketState(rc)
}
