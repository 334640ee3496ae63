package truststore

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// now is the time every test verifies at (through tls.Config.Time and
// x509.VerifyOptions.CurrentTime), so that the certificates below do not
// depend on the clock.
var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

const (
	day  = 24 * time.Hour
	year = 365 * day
)

// entity is a certificate and its key.
type entity struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// pki is a universe of test certificates, all made with
// x509.CreateCertificate. Roots in inBundle are trusted (written to the
// bundle file); the others are not.
type pki struct {
	// Trusted roots (in bundle order).
	rootA        *entity // Root A
	rootOldX     *entity // Old Root X, expired
	rootX        *entity // Root X, self-signed, valid
	rootM        *entity // Root M, key M1
	rootK1       *entity // Root K, key K1
	rootK2       *entity // Root K, key K2 (re-keyed: same subject)
	rootRExpired *entity // Root R, key R, expired (listed first)
	rootR        *entity // Root R, key R, re-issued, valid
	leafPinned   *entity // a leaf (issued by Root U) trusted as a root

	// Not trusted.
	rootU  *entity // Root U
	rootM2 *entity // Root M, key M2: same subject as rootM, another key
	xCross *entity // Root X (key X) cross-signed by Old Root X

	// Intermediates.
	interA        *entity // Inter A, by Root A
	interAExpired *entity // Inter A, same key, expired
	interX        *entity // Inter X, by Root X
	interM2       *entity // Inter M, by Root M's key M2
	interK        *entity // Inter K, by Root K's key K2
	interR        *entity // Inter R, by Root R
	interNC       *entity // Inter NC, by Root A, permitted DNS allowed.test
	interNotCA    *entity // Inter NotCA, by Root A, basic constraints CA:false
	interU        *entity // Inter U, by Root U

	// Leaves.
	leafA          *entity // example.com, *.wild.example.com, by Inter A
	leafAExpired   *entity
	leafANotYet    *entity
	leafIP         *entity // IP SANs 127.0.0.1 and ::1 only, by Inter A
	leafClientAuth *entity // example.com, client-auth EKU only
	leafX          *entity // x.example.com, by Inter X
	leafR          *entity // r.example.com, by Root R directly
	leafRI         *entity // ri.example.com, by Inter R
	leafM          *entity // m.example.com, by Inter M
	leafK          *entity // k.example.com, by Inter K
	leafNCGood     *entity // www.allowed.test, by Inter NC
	leafNCBad      *entity // evil.test, by Inter NC
	leafNotCA      *entity // notca.example.com, by Inter NotCA
	leafU          *entity // u.example.com, by Inter U
	leafSelf       *entity // self.example.com, self-signed

	inBundle []*entity
	all      []*entity // every certificate, for the fuzz test
}

var serial int64

func newKey(t testing.TB) *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func name(cn string) pkix.Name {
	return pkix.Name{CommonName: cn, Organization: []string{"truststore test"}}
}

// issue makes a certificate from tmpl for key, signed by parent (nil:
// self-signed).
func issue(t testing.TB, tmpl *x509.Certificate, key *ecdsa.PrivateKey, parent *entity) *entity {
	serial++
	tmpl.SerialNumber = big.NewInt(serial)
	signer, parentCert := key, tmpl
	if parent != nil {
		signer, parentCert = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &entity{cert: cert, key: key}
}

func caTmpl(cn string, from, to time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject:               name(cn),
		NotBefore:             from,
		NotAfter:              to,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

func leafTmpl(cn string, from, to time.Time, dns ...string) *x509.Certificate {
	return &x509.Certificate{
		Subject:     name(cn),
		NotBefore:   from,
		NotAfter:    to,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    dns,
	}
}

func newPKI(t testing.TB) *pki {
	p := &pki{}
	long := now.Add(10 * year)
	past := now.Add(-5 * year)

	p.rootA = issue(t, caTmpl("Root A", past, long), newKey(t), nil)
	p.rootOldX = issue(t, caTmpl("Old Root X", now.Add(-20*year), now.Add(-year)), newKey(t), nil)
	keyX := newKey(t)
	p.rootX = issue(t, caTmpl("Root X", past, long), keyX, nil)
	p.xCross = issue(t, caTmpl("Root X", past, long), keyX, p.rootOldX)
	p.rootM = issue(t, caTmpl("Root M", past, long), newKey(t), nil)
	p.rootM2 = issue(t, caTmpl("Root M", past, long), newKey(t), nil)
	p.rootK1 = issue(t, caTmpl("Root K", past, long), newKey(t), nil)
	p.rootK2 = issue(t, caTmpl("Root K", past, long), newKey(t), nil)
	keyR := newKey(t)
	p.rootRExpired = issue(t, caTmpl("Root R", now.Add(-20*year), now.Add(-year)), keyR, nil)
	p.rootR = issue(t, caTmpl("Root R", now.Add(-20*year), long), keyR, nil)
	p.rootU = issue(t, caTmpl("Root U", past, long), newKey(t), nil)

	mid := now.Add(5 * year)
	keyIA := newKey(t)
	p.interA = issue(t, caTmpl("Inter A", past, mid), keyIA, p.rootA)
	p.interAExpired = issue(t, caTmpl("Inter A", now.Add(-3*year), now.Add(-day)), keyIA, p.rootA)
	p.interX = issue(t, caTmpl("Inter X", past, mid), newKey(t), p.rootX)
	p.interM2 = issue(t, caTmpl("Inter M", past, mid), newKey(t), p.rootM2)
	p.interK = issue(t, caTmpl("Inter K", past, mid), newKey(t), p.rootK2)
	p.interR = issue(t, caTmpl("Inter R", past, mid), newKey(t), p.rootR)
	nc := caTmpl("Inter NC", past, mid)
	nc.PermittedDNSDomainsCritical = true
	nc.PermittedDNSDomains = []string{"allowed.test"}
	p.interNC = issue(t, nc, newKey(t), p.rootA)
	notCA := caTmpl("Inter NotCA", past, mid)
	notCA.IsCA = false
	notCA.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign
	p.interNotCA = issue(t, notCA, newKey(t), p.rootA)
	p.interU = issue(t, caTmpl("Inter U", past, mid), newKey(t), p.rootU)

	from, to := now.Add(-30*day), now.Add(60*day)
	p.leafA = issue(t, leafTmpl("example.com", from, to, "example.com", "*.wild.example.com"), newKey(t), p.interA)
	p.leafAExpired = issue(t, leafTmpl("example.com", now.Add(-90*day), now.Add(-day), "example.com"), newKey(t), p.interA)
	p.leafANotYet = issue(t, leafTmpl("example.com", now.Add(day), now.Add(90*day), "example.com"), newKey(t), p.interA)
	ip := leafTmpl("ip", from, to)
	ip.IPAddresses = []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
	p.leafIP = issue(t, ip, newKey(t), p.interA)
	ca := leafTmpl("example.com", from, to, "example.com")
	ca.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	p.leafClientAuth = issue(t, ca, newKey(t), p.interA)
	p.leafX = issue(t, leafTmpl("x.example.com", from, to, "x.example.com"), newKey(t), p.interX)
	p.leafR = issue(t, leafTmpl("r.example.com", from, to, "r.example.com"), newKey(t), p.rootR)
	p.leafRI = issue(t, leafTmpl("ri.example.com", from, to, "ri.example.com"), newKey(t), p.interR)
	p.leafM = issue(t, leafTmpl("m.example.com", from, to, "m.example.com"), newKey(t), p.interM2)
	p.leafK = issue(t, leafTmpl("k.example.com", from, to, "k.example.com"), newKey(t), p.interK)
	p.leafNCGood = issue(t, leafTmpl("www.allowed.test", from, to, "www.allowed.test"), newKey(t), p.interNC)
	p.leafNCBad = issue(t, leafTmpl("evil.test", from, to, "evil.test"), newKey(t), p.interNC)
	p.leafNotCA = issue(t, leafTmpl("notca.example.com", from, to, "notca.example.com"), newKey(t), p.interNotCA)
	p.leafU = issue(t, leafTmpl("u.example.com", from, to, "u.example.com"), newKey(t), p.interU)
	p.leafSelf = issue(t, leafTmpl("self.example.com", from, to, "self.example.com"), newKey(t), nil)
	p.leafPinned = issue(t, leafTmpl("pinned.example.com", from, to, "pinned.example.com"), newKey(t), p.interU)

	p.inBundle = []*entity{p.rootA, p.rootOldX, p.rootX, p.rootM, p.rootK1, p.rootK2,
		p.rootRExpired, p.rootR, p.leafPinned}
	p.all = []*entity{
		p.leafA, p.leafAExpired, p.leafANotYet, p.leafIP, p.leafClientAuth, p.leafX,
		p.leafR, p.leafRI, p.leafM, p.leafK, p.leafNCGood, p.leafNCBad, p.leafNotCA,
		p.leafU, p.leafSelf, p.leafPinned,
		p.interA, p.interAExpired, p.interX, p.interM2, p.interK, p.interR, p.interNC,
		p.interNotCA, p.interU, p.xCross,
		p.rootA, p.rootOldX, p.rootX, p.rootM, p.rootM2, p.rootK1, p.rootK2,
		p.rootRExpired, p.rootR, p.rootU,
	}
	return p
}

// systemBundle is the machine's bundle (Debian's path), when there is one:
// the test bundle holds it too, so that the index has a realistic size.
const systemBundle = "/etc/ssl/certs/ca-certificates.crt"

// fixture is a PKI, its bundle file and Go's own pool of that bundle (what
// crypto/x509 would load from SSL_CERT_FILE).
type fixture struct {
	*pki
	bundle     string
	bundleData []byte
	goPool     *x509.CertPool
	machine    int // roots from the machine's bundle in it
}

var (
	fixtureOnce sync.Once
	theFixture  *fixture
	fixtureDir  string
)

// TestMain removes the fixture's directory.
func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

func getFixture(t testing.TB) *fixture {
	fixtureOnce.Do(func() {
		dir, err := os.MkdirTemp("", "truststore")
		if err != nil {
			t.Fatal(err)
		}
		fixtureDir = dir
		f := &fixture{pki: newPKI(t)}
		var buf bytes.Buffer
		if data, err := os.ReadFile(systemBundle); err == nil {
			buf.Write(data)
			f.machine = bytes.Count(data, []byte("-----BEGIN CERTIFICATE-----"))
		}
		for _, e := range f.inBundle {
			pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: e.cert.Raw})
		}
		f.bundleData = buf.Bytes()
		f.bundle = filepath.Join(dir, "bundle.crt")
		if err := os.WriteFile(f.bundle, f.bundleData, 0o600); err != nil {
			t.Fatal(err)
		}
		f.goPool = x509.NewCertPool()
		f.goPool.AppendCertsFromPEM(f.bundleData)
		theFixture = f
	})
	if theFixture == nil {
		t.Fatal("fixture set-up failed")
	}
	return theFixture
}

func certsOf(es []*entity) []*x509.Certificate {
	out := make([]*x509.Certificate, len(es))
	for i, e := range es {
		out[i] = e.cert
	}
	return out
}
