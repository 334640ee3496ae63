package complycube

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// warmConnMaxAge is how long a connection made in advance stays worth
// handing out; after that the first request dials afresh. It is under the
// idle timeouts of common load balancers (60 s) so the server will not have
// closed it.
const warmConnMaxAge = 50 * time.Second

// prewarmDialer makes one connection to the API in advance (TCP, and TLS
// for https) and hands it to the transport for the first request, so that a
// cold start pays the handshakes while it also reads the key, not after.
type prewarmDialer struct {
	addr      string // host:port of the API
	tlsConfig *tls.Config
	dialer    net.Dialer

	mu      sync.Mutex
	pending chan struct{} // closed when the dial in advance finishes
	conn    net.Conn
	madeAt  time.Time
	now     func() time.Time
}

func newPrewarmDialer(base *url.URL, tlsConfig *tls.Config) *prewarmDialer {
	port := base.Port()
	if port == "" {
		port = "443"
		if base.Scheme == "http" {
			port = "80"
		}
	}
	d := &prewarmDialer{addr: net.JoinHostPort(base.Hostname(), port), now: time.Now, dialer: net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}}
	if base.Scheme == "https" {
		d.tlsConfig = tlsConfig.Clone()
		d.tlsConfig.ServerName = base.Hostname()
		d.tlsConfig.NextProtos = []string{"h2", "http/1.1"}
	}
	return d
}

// start begins dialing in advance, in the background; a call that needs a
// connection meanwhile waits for this one. wait returns the dial's error: a
// failure only means the first call dials as usual.
func (d *prewarmDialer) start(ctx context.Context) (wait func() error) {
	d.mu.Lock()
	if d.pending != nil || d.conn != nil {
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

// take returns the connection made in advance for addr, waiting for a dial
// in progress, or nil.
func (d *prewarmDialer) take(ctx context.Context, addr string) net.Conn {
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
	defer d.mu.Unlock()
	conn := d.conn
	d.conn = nil
	if conn != nil && d.now().Sub(d.madeAt) > warmConnMaxAge {
		conn.Close()
		return nil
	}
	return conn
}

// dial makes a connection: TLS when the API is https.
func (d *prewarmDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	raw, err := d.dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if d.tlsConfig == nil {
		return raw, nil
	}
	cfg := d.tlsConfig
	if host, _, err := net.SplitHostPort(addr); err == nil && host != cfg.ServerName {
		cfg = cfg.Clone()
		cfg.ServerName = host
	}
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
	}
	return tc, nil
}

// install makes t use the connection made in advance for its first dial:
// as its TLS dialer for https (the connection is already a TLS one), as its
// plain dialer for http.
func (d *prewarmDialer) install(t *http.Transport) {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if c := d.take(ctx, addr); c != nil {
			return c, nil
		}
		return d.dial(ctx, network, addr)
	}
	if d.tlsConfig != nil {
		t.DialTLSContext = dial
	} else {
		t.DialContext = dial
	}
}
