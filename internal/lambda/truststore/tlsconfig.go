package truststore

import (
	"crypto/fips140"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"time"
)

// errNoServerName is returned when the name to verify the server's
// certificate for cannot be known: crypto/tls would have refused such a
// connection before the handshake ("either ServerName or InsecureSkipVerify
// must be specified"), or it was made with a copy of the config whose
// ServerName, an IP address, the store cannot see (an IP address is not sent
// in SNI). Fail closed.
var errNoServerName = errors.New("truststore: cannot tell which server name to verify: set tls.Config.ServerName (a host name or IP address) on the config given to Store.TLSConfig")

// TLSConfig returns a client configuration that verifies servers with the
// store's roots, as crypto/tls verifies them with the system's. It returns a
// clone of base (nil means an empty config) with InsecureSkipVerify set, so
// that crypto/tls skips its own verification (and its parse of every system
// root), and a VerifyConnection that does that verification instead:
// x509.Certificate.Verify of the presented leaf, with the presented
// intermediates, for the config's ServerName, at the config's Time, with
// the default key usage (server authentication), against the roots the
// chain names. On failure it returns a *tls.CertificateVerificationError,
// as crypto/tls does. This is the pattern of crypto/tls's
// ExampleConfig_verifyConnection, with the server name and time taken from
// the config, as crypto/tls's verifyServerCertificate takes them.
//
// base's own hooks keep their meaning: VerifyPeerCertificate is called after
// a successful verification with the verified chains (not on resumed
// connections, as crypto/tls does), then VerifyConnection. Unlike crypto/tls,
// ConnectionState.VerifiedChains stays nil after the handshake (it is set in
// the state given to base's VerifyConnection).
//
// base is returned cloned but otherwise unchanged, and crypto/tls verifies as
// usual, when base sets RootCAs (its own roots, as in tests),
// InsecureSkipVerify or EncryptedClientHelloConfigList, when FIPS 140-3
// mode is on (crypto/tls then also filters chains), or when the store
// defers to crypto/tls (see System).
//
// Client configurations only. ServerName and Time are read, when a
// connection is verified, from the returned config: set them there or on
// base. A copy of it (http.Transport and tls.Dial copy a config whose
// ServerName is empty and set it to the host dialled) is verified for the
// host name it sent in SNI, at the returned config's Time; an IP address is
// not sent, so a copy made to reach an IP address fails verification
// (errNoServerName) unless the returned config names that address.
func (s *Store) TLSConfig(base *tls.Config) *tls.Config {
	var cfg *tls.Config
	if base == nil {
		cfg = &tls.Config{}
	} else {
		cfg = base.Clone()
	}
	if s.passthrough || cfg.RootCAs != nil || cfg.InsecureSkipVerify ||
		cfg.EncryptedClientHelloConfigList != nil || fips140.Enabled() {
		return cfg
	}
	verifyPeer, verifyConn := cfg.VerifyPeerCertificate, cfg.VerifyConnection
	cfg.InsecureSkipVerify = true
	cfg.VerifyPeerCertificate = nil
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		chains, err := s.verify(cfg, cs)
		if err != nil {
			return err
		}
		if verifyPeer != nil && !cs.DidResume {
			raw := make([][]byte, len(cs.PeerCertificates))
			for i, c := range cs.PeerCertificates {
				raw[i] = c.Raw
			}
			if err := verifyPeer(raw, chains); err != nil {
				return err
			}
		}
		if verifyConn != nil {
			cs.VerifiedChains = chains
			return verifyConn(cs)
		}
		return nil
	}
	return cfg
}

// verify is crypto/tls's verifyServerCertificate (handshake_client.go, the
// !InsecureSkipVerify branch) with opts.Roots limited to the roots the chain
// can use.
func (s *Store) verify(cfg *tls.Config, cs tls.ConnectionState) ([][]*x509.Certificate, error) {
	certs := cs.PeerCertificates
	if len(certs) == 0 {
		return nil, errors.New("truststore: the server presented no certificate")
	}
	name, ok := serverName(cfg.ServerName, cs.ServerName)
	if !ok {
		return nil, errNoServerName
	}
	opts := x509.VerifyOptions{
		Roots:         s.rootsFor(certs),
		CurrentTime:   configTime(cfg),
		DNSName:       name,
		Intermediates: x509.NewCertPool(),
	}
	for _, cert := range certs[1:] {
		opts.Intermediates.AddCert(cert)
	}
	chains, err := certs[0].Verify(opts)
	if err != nil {
		return nil, &tls.CertificateVerificationError{UnverifiedCertificates: certs, Err: err}
	}
	return chains, nil
}

// serverName returns the name crypto/tls would verify (its config's
// ServerName), given the ServerName of the config the store's
// VerifyConnection belongs to and the name the connection sent in SNI
// (hostnameInSNI of the connection's config's ServerName). When they
// disagree, the connection's config is a copy with another ServerName: the
// SNI name is the one to verify (the same but for trailing dots, which
// x509's host name matching ignores), and an empty one (an IP address, or
// no name) cannot be verified.
func serverName(configured, sni string) (string, bool) {
	if configured != "" && hostnameInSNI(configured) == sni {
		return configured, true
	}
	if sni != "" {
		return sni, true
	}
	return "", false
}

// hostnameInSNI is crypto/tls's (handshake_client.go): the name sent in SNI
// for a ServerName, none for an IP address.
func hostnameInSNI(name string) string {
	host := name
	if len(host) > 0 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	if i := strings.LastIndex(host, "%"); i > 0 {
		host = host[:i]
	}
	if net.ParseIP(host) != nil {
		return ""
	}
	for len(name) > 0 && name[len(name)-1] == '.' {
		name = name[:len(name)-1]
	}
	return name
}

// configTime is crypto/tls's Config.time (common.go).
func configTime(cfg *tls.Config) time.Time {
	if cfg.Time == nil {
		return time.Now()
	}
	return cfg.Time()
}
