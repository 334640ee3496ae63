package truststore

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// goVerify is Go's default verification of a server's chain, as crypto/tls's
// verifyServerCertificate does it, with the same roots as Go's system pool
// would hold (the bundle's).
func goVerify(roots *x509.CertPool, certs []*x509.Certificate, host string, at time.Time) error {
	opts := x509.VerifyOptions{
		Roots:         roots,
		CurrentTime:   at,
		DNSName:       host,
		Intermediates: x509.NewCertPool(),
	}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := certs[0].Verify(opts); err != nil {
		return &tls.CertificateVerificationError{UnverifiedCertificates: certs, Err: err}
	}
	return nil
}

// handshake runs a TLS handshake over loopback TCP between a server
// presenting chain (with the leaf's key) and a client with cfg, and returns
// the client's error. (Not net.Pipe: its writes block until read, and a
// client that rejects the server's certificate writes its alert while the
// server is still writing its flight.)
func handshake(t *testing.T, cfg *tls.Config, chain []*entity, maxVersion uint16) error {
	t.Helper()
	return handshakeWith(t, cfg, serverConfig(chain, maxVersion))
}

func serverConfig(chain []*entity, maxVersion uint16) *tls.Config {
	raw := make([][]byte, len(chain))
	for i, e := range chain {
		raw[i] = e.cert.Raw
	}
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: raw, PrivateKey: chain[0].key}},
		Time:         func() time.Time { return now },
		MaxVersion:   maxVersion,
	}
}

func handshakeWith(t *testing.T, cfg, server *tls.Config) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	deadline := time.Now().Add(20 * time.Second)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s, err := ln.Accept()
		if err != nil {
			return
		}
		defer s.Close()
		s.SetDeadline(deadline)
		srv := tls.Server(s, server)
		if srv.Handshake() == nil {
			var b [1]byte
			srv.Read(b[:]) // until the client closes
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(deadline)
	err = tls.Client(c, cfg).Handshake()
	c.Close()
	<-done
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("handshake timed out: %v", err)
	}
	return err
}

type verdictCase struct {
	name  string
	chain func(p *pki) []*entity
	host  string
	at    time.Time // zero: now
	valid bool      // the verdict expected (Go's, checked too)
}

var verdictCases = []verdictCase{
	{"valid", func(p *pki) []*entity { return []*entity{p.leafA, p.interA} }, "example.com", time.Time{}, true},
	{"valid wildcard", func(p *pki) []*entity { return []*entity{p.leafA, p.interA} }, "a.wild.example.com", time.Time{}, true},
	{"wildcard one label only", func(p *pki) []*entity { return []*entity{p.leafA, p.interA} }, "a.b.wild.example.com", time.Time{}, false},
	{"valid trailing dot", func(p *pki) []*entity { return []*entity{p.leafA, p.interA} }, "example.com.", time.Time{}, true},
	{"valid upper case", func(p *pki) []*entity { return []*entity{p.leafA, p.interA} }, "EXAMPLE.com", time.Time{}, true},
	{"valid, extra root and unordered", func(p *pki) []*entity { return []*entity{p.leafA, p.rootA, p.interA} }, "example.com", time.Time{}, true},
	{"expired leaf", func(p *pki) []*entity { return []*entity{p.leafAExpired, p.interA} }, "example.com", time.Time{}, false},
	{"expired intermediate", func(p *pki) []*entity { return []*entity{p.leafA, p.interAExpired} }, "example.com", time.Time{}, false},
	{"expired and valid intermediate", func(p *pki) []*entity { return []*entity{p.leafA, p.interAExpired, p.interA} }, "example.com", time.Time{}, true},
	{"not yet valid leaf", func(p *pki) []*entity { return []*entity{p.leafANotYet, p.interA} }, "example.com", time.Time{}, false},
	{"config time after expiry", func(p *pki) []*entity { return []*entity{p.leafA, p.interA} }, "example.com", now.Add(year), false},
	{"config time before validity", func(p *pki) []*entity { return []*entity{p.leafA, p.interA} }, "example.com", now.Add(-year), false},
	{"wrong host", func(p *pki) []*entity { return []*entity{p.leafA, p.interA} }, "other.example", time.Time{}, false},
	{"name cert, connecting by IP", func(p *pki) []*entity { return []*entity{p.leafA, p.interA} }, "127.0.0.1", time.Time{}, false},
	{"IP cert, connecting by name", func(p *pki) []*entity { return []*entity{p.leafIP, p.interA} }, "localhost", time.Time{}, false},
	{"IP SAN, IPv4", func(p *pki) []*entity { return []*entity{p.leafIP, p.interA} }, "127.0.0.1", time.Time{}, true},
	{"IP SAN, IPv6", func(p *pki) []*entity { return []*entity{p.leafIP, p.interA} }, "::1", time.Time{}, true},
	{"IP SAN, IPv6 bracketed", func(p *pki) []*entity { return []*entity{p.leafIP, p.interA} }, "[::1]", time.Time{}, true},
	{"IP SAN, other IP", func(p *pki) []*entity { return []*entity{p.leafIP, p.interA} }, "127.0.0.2", time.Time{}, false},
	{"unknown root", func(p *pki) []*entity { return []*entity{p.leafU, p.interU} }, "u.example.com", time.Time{}, false},
	{"unknown root presented", func(p *pki) []*entity { return []*entity{p.leafU, p.interU, p.rootU} }, "u.example.com", time.Time{}, false},
	{"self-signed leaf", func(p *pki) []*entity { return []*entity{p.leafSelf} }, "self.example.com", time.Time{}, false},
	{"missing intermediate", func(p *pki) []*entity { return []*entity{p.leafA} }, "example.com", time.Time{}, false},
	{"cross-signed, both paths presented", func(p *pki) []*entity { return []*entity{p.leafX, p.interX, p.xCross} }, "x.example.com", time.Time{}, true},
	{"cross-signed, expired path only", func(p *pki) []*entity { return []*entity{p.leafX, p.xCross} }, "x.example.com", time.Time{}, false},
	{"re-issued root, expired one first", func(p *pki) []*entity { return []*entity{p.leafR} }, "r.example.com", time.Time{}, true},
	{"re-issued root, via intermediate", func(p *pki) []*entity { return []*entity{p.leafRI, p.interR} }, "ri.example.com", time.Time{}, true},
	{"root subject matches, key does not", func(p *pki) []*entity { return []*entity{p.leafM, p.interM2} }, "m.example.com", time.Time{}, false},
	{"re-keyed root, second key", func(p *pki) []*entity { return []*entity{p.leafK, p.interK} }, "k.example.com", time.Time{}, true},
	{"name constraints respected", func(p *pki) []*entity { return []*entity{p.leafNCGood, p.interNC} }, "www.allowed.test", time.Time{}, true},
	{"name constraints violated", func(p *pki) []*entity { return []*entity{p.leafNCBad, p.interNC} }, "evil.test", time.Time{}, false},
	{"client-auth-only leaf", func(p *pki) []*entity { return []*entity{p.leafClientAuth, p.interA} }, "example.com", time.Time{}, false},
	{"CA:false intermediate", func(p *pki) []*entity { return []*entity{p.leafNotCA, p.interNotCA} }, "notca.example.com", time.Time{}, false},
	{"leaf trusted as a root", func(p *pki) []*entity { return []*entity{p.leafPinned} }, "pinned.example.com", time.Time{}, true},
	{"leaf trusted as a root, wrong host", func(p *pki) []*entity { return []*entity{p.leafPinned} }, "other.example.com", time.Time{}, false},
	{"a root as the leaf", func(p *pki) []*entity { return []*entity{p.rootA} }, "example.com", time.Time{}, false},
}

// TestSameVerdictAsGo judges every chain of the table with Go's default
// verification and with the store, through real handshakes (TLS 1.2 and
// 1.3) and by calling VerifyConnection directly, and requires the same
// verdict and the same error.
func TestSameVerdictAsGo(t *testing.T) {
	f := getFixture(t)
	store := FromFiles(f.bundle, nil)
	for _, tc := range verdictCases {
		t.Run(tc.name, func(t *testing.T) {
			chain := tc.chain(f.pki)
			at := tc.at
			if at.IsZero() {
				at = now
			}
			clock := func() time.Time { return at }
			want := goVerify(f.goPool, certsOf(chain), tc.host, at)
			if (want == nil) != tc.valid {
				t.Fatalf("Go's verification: %v; the table expects valid=%v", want, tc.valid)
			}

			cfg := store.TLSConfig(&tls.Config{ServerName: tc.host, Time: clock})
			if !cfg.InsecureSkipVerify || cfg.VerifyConnection == nil {
				t.Fatal("TLSConfig did not install the store's verification")
			}
			got := cfg.VerifyConnection(tls.ConnectionState{
				PeerCertificates: certsOf(chain),
				ServerName:       hostnameInSNI(tc.host),
			})
			sameError(t, "VerifyConnection", got, want)

			for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
				goCfg := &tls.Config{RootCAs: f.goPool, ServerName: tc.host, Time: clock}
				goErr := handshake(t, goCfg, chain, v)
				storeErr := handshake(t, cfg, chain, v)
				sameError(t, tls.VersionName(v)+" handshake", storeErr, goErr)
				if (goErr == nil) != tc.valid {
					t.Errorf("%s: Go's handshake: %v; the table expects valid=%v", tls.VersionName(v), goErr, tc.valid)
				}
			}
		})
	}
	if f.machine > 0 {
		t.Logf("index: %d roots (%d from %s), %d parsed", store.Len(), f.machine, systemBundle, store.Parsed())
	}
}

func sameError(t *testing.T, what string, got, want error) {
	t.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil:
		t.Errorf("%s: store accepted, Go: %v", what, want)
	case want == nil:
		t.Errorf("%s: store: %v, Go accepted", what, got)
	default:
		var gcv, wcv *tls.CertificateVerificationError
		if errors.As(want, &wcv) != errors.As(got, &gcv) {
			t.Errorf("%s: store's error %T, Go's %T", what, got, want)
		}
		if got.Error() != want.Error() {
			t.Errorf("%s: errors differ\nstore: %v\nGo:    %v", what, got, want)
		}
	}
}

// TestParsesOnlyNamedRoots checks the point of the store: a verification
// parses the roots the chain names, not the bundle.
func TestParsesOnlyNamedRoots(t *testing.T) {
	f := getFixture(t)
	store := FromFiles(f.bundle, nil)
	if got, want := store.Len(), f.machine+len(f.inBundle); got != want {
		t.Fatalf("Len = %d, want %d", got, want)
	}
	if store.Parsed() != 0 {
		t.Fatalf("indexing parsed %d roots", store.Parsed())
	}
	cfg := store.TLSConfig(&tls.Config{ServerName: "example.com", Time: func() time.Time { return now }})
	cs := tls.ConnectionState{PeerCertificates: certsOf([]*entity{f.leafA, f.interA}), ServerName: "example.com"}
	for range 3 {
		if err := cfg.VerifyConnection(cs); err != nil {
			t.Fatal(err)
		}
	}
	if store.Parsed() != 1 {
		t.Errorf("parsed %d roots for a chain naming one, want 1", store.Parsed())
	}
	// Two roots named Root K: both are parsed (either could be the issuer).
	cs = tls.ConnectionState{PeerCertificates: certsOf([]*entity{f.leafK, f.interK}), ServerName: "k.example.com"}
	cfg.ServerName = "k.example.com"
	if err := cfg.VerifyConnection(cs); err != nil {
		t.Fatal(err)
	}
	if store.Parsed() != 3 {
		t.Errorf("parsed %d roots, want 3", store.Parsed())
	}
}

func TestLeavesConfigAlone(t *testing.T) {
	f := getFixture(t)
	store := FromFiles(f.bundle, nil)
	for _, base := range []*tls.Config{
		{RootCAs: x509.NewCertPool()},
		{InsecureSkipVerify: true},
		{EncryptedClientHelloConfigList: []byte{0}},
	} {
		cfg := store.TLSConfig(base)
		if cfg == base || cfg.VerifyConnection != nil || cfg.InsecureSkipVerify != base.InsecureSkipVerify {
			t.Errorf("TLSConfig(%+v) changed the config or returned it uncloned", base)
		}
	}
	if cfg := store.TLSConfig(nil); !cfg.InsecureSkipVerify || cfg.VerifyConnection == nil {
		t.Error("TLSConfig(nil) did not install verification")
	}
	if (&Store{passthrough: true}).TLSConfig(nil).VerifyConnection != nil {
		t.Error("a passthrough store installed verification")
	}
}

// TestServerNameOfCopies covers configs copied by http.Transport and
// tls.Dial, whose ServerName the store's VerifyConnection cannot read.
func TestServerNameOfCopies(t *testing.T) {
	f := getFixture(t)
	store := FromFiles(f.bundle, nil)
	clock := func() time.Time { return now }
	cfg := store.TLSConfig(&tls.Config{Time: clock})

	named := cfg.Clone()
	named.ServerName = "example.com"
	if err := handshake(t, named, []*entity{f.leafA, f.interA}, 0); err != nil {
		t.Errorf("copy with a host name: %v", err)
	}
	named.ServerName = "other.example"
	if err := handshake(t, named, []*entity{f.leafA, f.interA}, 0); err == nil {
		t.Error("copy with a wrong host name: accepted")
	}
	// An IP address is not sent in SNI: the name is unknowable, fail
	// closed (Go's own verification would check the IP SAN).
	ip := cfg.Clone()
	ip.ServerName = "127.0.0.1"
	if err := handshake(t, ip, []*entity{f.leafIP, f.interA}, 0); !errors.Is(err, errNoServerName) {
		t.Errorf("copy with an IP address: %v, want errNoServerName", err)
	}
	// No name at all: crypto/tls refuses such a config; so does the store.
	if err := handshake(t, cfg, []*entity{f.leafA, f.interA}, 0); !errors.Is(err, errNoServerName) {
		t.Errorf("no server name: %v, want errNoServerName", err)
	}
	// The IP address on the store's own config is verified.
	byIP := store.TLSConfig(&tls.Config{ServerName: "127.0.0.1", Time: clock})
	if err := handshake(t, byIP.Clone(), []*entity{f.leafIP, f.interA}, 0); err != nil {
		t.Errorf("IP address on the store's config: %v", err)
	}

	for _, c := range []struct {
		configured, sni, want string
		ok                    bool
	}{
		{"example.com", "example.com", "example.com", true},
		{"example.com.", "example.com", "example.com.", true},
		{"example.com", "other.example", "other.example", true},
		{"", "example.com", "example.com", true},
		{"10.0.0.1", "", "10.0.0.1", true},
		{"[::1]", "", "[::1]", true},
		{"example.com", "", "", false},
		{"", "", "", false},
	} {
		got, ok := serverName(c.configured, c.sni)
		if got != c.want || ok != c.ok {
			t.Errorf("serverName(%q, %q) = %q, %v; want %q, %v", c.configured, c.sni, got, ok, c.want, c.ok)
		}
	}
}

// TestUserHooks checks that base's VerifyPeerCertificate and
// VerifyConnection run after the verification, with the verified chains.
func TestUserHooks(t *testing.T) {
	f := getFixture(t)
	store := FromFiles(f.bundle, nil)
	var peerChains, connChains int
	order := ""
	base := &tls.Config{
		ServerName: "example.com",
		Time:       func() time.Time { return now },
		VerifyPeerCertificate: func(raw [][]byte, chains [][]*x509.Certificate) error {
			order += "peer,"
			peerChains = len(chains)
			if len(raw) != 2 {
				t.Errorf("VerifyPeerCertificate got %d certificates", len(raw))
			}
			return nil
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			order += "conn"
			connChains = len(cs.VerifiedChains)
			return nil
		},
	}
	if err := handshake(t, store.TLSConfig(base), []*entity{f.leafA, f.interA}, 0); err != nil {
		t.Fatal(err)
	}
	if order != "peer,conn" || peerChains != 1 || connChains != 1 {
		t.Errorf("hooks: order %q, chains %d and %d", order, peerChains, connChains)
	}
	order = ""
	base.ServerName = "other.example"
	if err := handshake(t, store.TLSConfig(base), []*entity{f.leafA, f.interA}, 0); err == nil || order != "" {
		t.Errorf("wrong host: %v, hooks run: %q", err, order)
	}
	hookErr := errors.New("refused by hook")
	base.ServerName = "example.com"
	base.VerifyConnection = func(tls.ConnectionState) error { return hookErr }
	if err := handshake(t, store.TLSConfig(base), []*entity{f.leafA, f.interA}, 0); !errors.Is(err, hookErr) {
		t.Errorf("hook's error: %v", err)
	}
}

// TestResumption: a resumed connection (TLS 1.2 session ticket) is
// verified again by VerifyConnection, for the config's current name;
// VerifyPeerCertificate is not called, as crypto/tls does not call it.
func TestResumption(t *testing.T) {
	f := getFixture(t)
	store := FromFiles(f.bundle, nil)
	server := serverConfig([]*entity{f.leafA, f.interA}, tls.VersionTLS12)
	var resumed, peerCalls int
	base := &tls.Config{
		ServerName:         "example.com",
		Time:               func() time.Time { return now },
		ClientSessionCache: tls.NewLRUClientSessionCache(4),
		VerifyPeerCertificate: func([][]byte, [][]*x509.Certificate) error {
			peerCalls++
			return nil
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			if cs.DidResume {
				resumed++
			}
			return nil
		},
	}
	cfg := store.TLSConfig(base)
	for range 2 {
		if err := handshakeWith(t, cfg, server); err != nil {
			t.Fatal(err)
		}
	}
	if resumed != 1 || peerCalls != 1 {
		t.Fatalf("resumed %d times, VerifyPeerCertificate called %d times; want 1 and 1", resumed, peerCalls)
	}
	// The session is cached under the config's name: a copy naming
	// another host does not reuse it, and is verified for its own name.
	other := cfg.Clone()
	other.ServerName = "other.example"
	if err := handshakeWith(t, other, server); err == nil {
		t.Error("other host name: accepted")
	}
	// A later time on the resumed connection is checked again.
	late := cfg.Clone()
	late.Time = func() time.Time { return now.Add(year) }
	cfg.Time = late.Time // read through the config VerifyConnection belongs to
	if err := handshakeWith(t, late, server); err == nil {
		t.Error("resumed after the leaf expired: accepted")
	}
}

func TestConcurrentVerify(t *testing.T) {
	f := getFixture(t)
	store := FromFiles(f.bundle, nil)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			c := verdictCases[i*5%len(verdictCases)]
			chain := certsOf(c.chain(f.pki))
			at := c.at
			if at.IsZero() {
				at = now
			}
			cfg := store.TLSConfig(&tls.Config{ServerName: c.host, Time: func() time.Time { return at }})
			for range 20 {
				err := cfg.VerifyConnection(tls.ConnectionState{PeerCertificates: chain, ServerName: hostnameInSNI(c.host)})
				if (err == nil) != c.valid {
					t.Errorf("%s: %v", c.name, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestNoPeerCertificates(t *testing.T) {
	f := getFixture(t)
	cfg := FromFiles(f.bundle, nil).TLSConfig(&tls.Config{ServerName: "example.com"})
	if err := cfg.VerifyConnection(tls.ConnectionState{ServerName: "example.com"}); err == nil {
		t.Error("no certificates: accepted")
	}
}

// TestEmptyStoreDefersToGo: with no roots indexed, Verify gets nil Roots and
// uses crypto/x509's system pool (and its fallback roots), as tls would.
func TestEmptyStoreDefersToGo(t *testing.T) {
	f := getFixture(t)
	store := FromFiles("", []string{t.TempDir()})
	if store.Len() != 0 {
		t.Fatal("empty directory gave roots")
	}
	if pool := store.rootsFor(certsOf([]*entity{f.leafA})); pool != nil {
		t.Error("empty index: rootsFor returned a pool, want nil (the system's)")
	}
}
