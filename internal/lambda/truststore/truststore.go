// Package truststore verifies TLS servers against the system's trusted roots
// without parsing every root up front (issue 19).
//
// crypto/x509 loads the system roots by parsing every certificate in the
// bundle file and the certificate directories (x509.CertPool's
// AppendCertsFromPEM calls ParseCertificate on each), although a handshake
// needs one or two of them. At Lambda's 128 MB CPU share that costs tens of
// milliseconds of every cold start, more on provided.al2023, where each root
// is read about three times.
//
// A Store reads the same files crypto/x509 would, in the same order, but only
// indexes them: it finds the PEM blocks pem.Decode would find, decodes the
// first lines of each one's base64 and reads the raw subject out of that
// start of the certificate's DER, leaving the rest for later. When a server
// presents a chain, the Store parses only the roots whose subject is named
// as issuer by a certificate of that chain (each root is parsed once and
// cached), and hands them, with the chain's intermediates, to
// x509.Certificate.Verify: the verification is Go's own (host name,
// validity, key usage, name constraints, path length), with a root pool that
// holds every root Go's chain building could consider for that chain, in
// the same order.
package truststore

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
)

// Mirrors of crypto/x509 (Go 1.26): root_linux.go certFiles and
// certDirectories, root_unix.go certFileEnv and certDirEnv.
var (
	linuxCertFiles = []string{
		"/etc/ssl/certs/ca-certificates.crt",                // Debian/Ubuntu/Gentoo etc.
		"/etc/pki/tls/certs/ca-bundle.crt",                  // Fedora/RHEL 6
		"/etc/ssl/ca-bundle.pem",                            // OpenSUSE
		"/etc/pki/tls/cacert.pem",                           // OpenELEC
		"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // CentOS/RHEL 7
		"/etc/ssl/cert.pem",                                 // Alpine Linux
	}
	linuxCertDirectories = []string{
		"/etc/ssl/certs",     // SLES10/SLES11, https://golang.org/issue/12139
		"/etc/pki/tls/certs", // Fedora/RHEL
	}
	androidCertDirectories = []string{
		"/system/etc/security/cacerts",    // Android system roots
		"/data/misc/keychain/certs-added", // User trusted CA folder
	}
)

const (
	certFileEnv = "SSL_CERT_FILE"
	certDirEnv  = "SSL_CERT_DIR"
)

// A Store is an index of trusted roots, keyed by raw subject, whose
// certificates are parsed on first use. It is safe for concurrent use.
type Store struct {
	// files are the candidate bundle files (the first readable one is
	// read) and dirs the directories (all are read), unless fromEnv, in
	// which case SSL_CERT_FILE and SSL_CERT_DIR may replace them when the
	// store loads, as they replace crypto/x509's defaults.
	files   []string
	dirs    []string
	fromEnv bool

	// passthrough: Go's own verification must be kept (a platform whose
	// roots this package does not mirror, or GODEBUG's
	// x509usefallbackroots=1); TLSConfig then only clones its argument.
	passthrough bool

	once      sync.Once
	bySubject map[string][]*root // raw subject DER -> roots, in load order
	count     int
	parsed    atomic.Int64
}

// root is one trusted certificate, decoded and parsed on first use.
type root struct {
	body    []byte // base64 text, until decoded
	derOnce sync.Once
	der     []byte // nil when body is not valid base64 (pem.Decode skips it)

	certOnce sync.Once
	cert     *x509.Certificate // nil when unparsable (Go skips it) or a duplicate
}

func (r *root) getDER() []byte {
	r.derOnce.Do(func() {
		r.der, _ = decodeBody(r.body)
	})
	return r.der
}

// cert returns bucket[i] parsed, or nil if it cannot be parsed or an
// earlier root of its bucket has the same DER (a CertPool holds it once).
func (s *Store) cert(bucket []*root, i int) *x509.Certificate {
	r := bucket[i]
	r.certOnce.Do(func() {
		der := r.getDER()
		if der == nil {
			return
		}
		for _, prev := range bucket[:i] {
			if bytes.Equal(prev.getDER(), der) {
				return
			}
		}
		cert, err := x509.ParseCertificate(der)
		s.parsed.Add(1)
		if err == nil {
			r.cert = cert
		}
	})
	return r.cert
}

var system = sync.OnceValue(newSystem)

// System returns the process's store of the system's trusted roots: on Linux
// (and Android) the files crypto/x509 reads, honouring SSL_CERT_FILE and
// SSL_CERT_DIR as it does. Nothing is read until the first verification (or
// Len). Roots parsed for one connection stay parsed for the next.
//
// On other systems, or when GODEBUG sets x509usefallbackroots=1, the store
// leaves verification to crypto/tls (TLSConfig only clones its argument).
func System() *Store { return system() }

func newSystem() *Store {
	s := &Store{files: linuxCertFiles, dirs: linuxCertDirectories, fromEnv: true}
	switch runtime.GOOS {
	case "linux":
	case "android":
		s.dirs = append(append([]string(nil), linuxCertDirectories...), androidCertDirectories...)
	default:
		s.passthrough = true
	}
	if forcedFallbackRoots() {
		s.passthrough = true
	}
	return s
}

// FromFiles returns a store of the roots in file (when not empty) and in
// every file of dirs, read as crypto/x509 reads SSL_CERT_FILE and
// SSL_CERT_DIR. It is meant for tests; the environment is not consulted.
func FromFiles(file string, dirs []string) *Store {
	s := &Store{dirs: append([]string(nil), dirs...)}
	if file != "" {
		s.files = []string{file}
	}
	return s
}

// Len loads the index if it is not loaded yet and returns the number of
// distinct roots in it (some may turn out unparsable when used, and are then
// skipped, as crypto/x509 skips them).
func (s *Store) Len() int {
	s.load()
	return s.count
}

// Preload loads the index now, unless the store leaves verification to
// crypto/tls: for a program that will surely verify a server soon and has
// the CPU to spare before it does.
func (s *Store) Preload() {
	if !s.passthrough {
		s.load()
	}
}

// Parsed returns how many roots have been parsed so far.
func (s *Store) Parsed() int { return int(s.parsed.Load()) }

func (s *Store) load() {
	s.once.Do(func() {
		s.bySubject = make(map[string][]*root)
		files, dirs := s.files, s.dirs
		if s.fromEnv {
			if f := os.Getenv(certFileEnv); f != "" {
				files = []string{f}
			}
			if d := os.Getenv(certDirEnv); d != "" {
				dirs = strings.Split(d, ":")
			}
		}
		// As crypto/x509's loadSystemRoots (root_unix.go): the first file
		// that can be read, then every entry of every directory except
		// symlinks within the directory. Errors are not kept: when the
		// index is empty, verification falls back to crypto/x509's own
		// loader, which reports them.
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err == nil {
				s.appendPEM(data)
				break
			}
		}
		for _, directory := range dirs {
			fis, err := readUniqueDirectoryEntries(directory)
			if err != nil {
				continue
			}
			for _, fi := range fis {
				data, err := os.ReadFile(directory + "/" + fi.Name())
				if err == nil {
					s.appendPEM(data)
				}
			}
		}
	})
}

// appendPEM mirrors x509.CertPool.AppendCertsFromPEM (cert_pool.go), with
// pem.Decode replaced by nextPEM (the same blocks, base64 bodies left
// undecoded) and the full parse by reading the subject.
func (s *Store) appendPEM(pemCerts []byte) {
	var out [prefixBytes]byte
	for len(pemCerts) > 0 {
		var block pemBlock
		var ok bool
		block, pemCerts, ok = nextPEM(pemCerts)
		if !ok {
			break
		}
		if !block.certificate {
			continue
		}
		if block.der != nil {
			s.addDER(block.der)
			continue
		}
		// The subject is within the first few hundred bytes of a
		// certificate: decode only those.
		if subject, ok := bodySubject(block.body, out[:]); ok {
			s.insert(subject, &root{body: block.body})
			continue
		}
		der, err := decodeBody(block.body)
		if err != nil {
			continue // pem.Decode skips the block
		}
		s.addDER(der)
	}
}

// prefixBytes is how much of a certificate appendPEM decodes, at most, to
// find its subject. The subject of each of Debian's 144 roots ends within
// the first 489 bytes (half of them within 257); a longer one makes
// appendPEM decode the whole body.
const prefixBytes = 1024

// addDER indexes a decoded certificate.
func (s *Store) addDER(der []byte) {
	r := &root{der: der}
	r.derOnce.Do(func() {})
	subject, ok := rawSubject(der)
	if !ok {
		// Not DER this scanner understands: let ParseCertificate decide,
		// as AppendCertsFromPEM does (an unparsable certificate is
		// skipped).
		cert, err := x509.ParseCertificate(der)
		s.parsed.Add(1)
		if err != nil {
			return
		}
		r.certOnce.Do(func() { r.cert = cert })
		subject = cert.RawSubject
	}
	s.insert(subject, r)
}

// insert adds r to its subject's roots, unless the same text or DER is
// there already (CertPool skips a certificate it holds; duplicates written
// differently are skipped when parsed).
func (s *Store) insert(subject []byte, r *root) {
	key := string(subject)
	for _, other := range s.bySubject[key] {
		if r.body != nil && bytes.Equal(other.body, r.body) ||
			r.der != nil && bytes.Equal(other.der, r.der) {
			return
		}
	}
	s.bySubject[key] = append(s.bySubject[key], r)
	s.count++
}

// rawSubject returns the subject Name of a DER certificate, header
// included (what x509.Certificate.RawSubject holds), reading
//
//	Certificate ::= SEQUENCE { tbsCertificate TBSCertificate, ... }
//	TBSCertificate ::= SEQUENCE { version [0] EXPLICIT OPTIONAL,
//	    serialNumber INTEGER, signature AlgorithmIdentifier,
//	    issuer Name, validity Validity, subject Name, ... }
//
// without parsing anything else. For a certificate ParseCertificate accepts
// the result equals its RawSubject; for one it rejects, the root is skipped
// when first parsed.
func rawSubject(der []byte) ([]byte, bool) {
	tag, _, _, _, ok := readElement(der)
	if !ok || tag != 0x30 {
		return nil, false
	}
	return rawSubjectPrefix(der)
}

// rawSubjectPrefix is rawSubject for the first bytes of a certificate: the
// certificate and TBSCertificate may extend past the end of der, the
// fields up to the subject must not.
func rawSubjectPrefix(der []byte) ([]byte, bool) {
	tag, tbs, ok := readHeader(der) // Certificate
	if !ok || tag != 0x30 {
		return nil, false
	}
	if tag, tbs, ok = readHeader(tbs); !ok || tag != 0x30 { // TBSCertificate
		return nil, false
	}
	if len(tbs) > 0 && tbs[0] == 0xa0 { // [0] EXPLICIT version
		if _, _, _, tbs, ok = readElement(tbs); !ok {
			return nil, false
		}
	}
	for _, want := range []byte{0x02, 0x30, 0x30, 0x30} { // serial, signature, issuer, validity
		if tag, _, _, tbs, ok = readElement(tbs); !ok || tag != want {
			return nil, false
		}
	}
	tag, subject, _, _, ok := readElement(tbs)
	if !ok || tag != 0x30 {
		return nil, false
	}
	return subject, true
}

// readHeader returns the tag of the DER element b starts with and what
// follows its header, the element's content possibly running past b's end.
func readHeader(b []byte) (tag byte, content []byte, ok bool) {
	if len(b) < 2 || b[0]&0x1f == 0x1f {
		return 0, nil, false
	}
	header := 2
	if b[1]&0x80 != 0 {
		n := int(b[1] & 0x7f)
		if n == 0 || n > 4 {
			return 0, nil, false
		}
		header += n
	}
	if len(b) < header {
		return 0, nil, false
	}
	return b[0], b[header:], true
}

// readElement splits one DER TLV with a low-number tag and a definite
// length off b.
func readElement(b []byte) (tag byte, element, content, rest []byte, ok bool) {
	if len(b) < 2 || b[0]&0x1f == 0x1f {
		return 0, nil, nil, nil, false
	}
	length, header := uint64(b[1]), 2
	if length&0x80 != 0 {
		n := int(length & 0x7f)
		if n == 0 || n > 4 || len(b) < 2+n {
			return 0, nil, nil, nil, false
		}
		length = 0
		for _, c := range b[2 : 2+n] {
			length = length<<8 | uint64(c)
		}
		header += n
	}
	if uint64(len(b)-header) < length {
		return 0, nil, nil, nil, false
	}
	end := header + int(length)
	return b[0], b[:end], b[header:end], b[end:], true
}

// readUniqueDirectoryEntries is crypto/x509's (root_unix.go): os.ReadDir
// without the symlinks that point within the directory.
func readUniqueDirectoryEntries(dir string) ([]fs.DirEntry, error) {
	files, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	uniq := files[:0]
	for _, f := range files {
		if !isSameDirSymlink(f, dir) {
			uniq = append(uniq, f)
		}
	}
	return uniq, nil
}

// isSameDirSymlink is crypto/x509's (root_unix.go): whether f in dir is a
// symlink with a target not containing a slash.
func isSameDirSymlink(f fs.DirEntry, dir string) bool {
	if f.Type()&fs.ModeSymlink == 0 {
		return false
	}
	target, err := os.Readlink(filepath.Join(dir, f.Name()))
	return err == nil && !strings.Contains(target, "/")
}

// rootsFor returns a pool of the roots that x509's chain building could
// consider for a chain made of certs (leaf first) with certs[1:] as the
// intermediates: it only ever looks roots up by the RawIssuer of the leaf or
// of an intermediate (CertPool.findPotentialParents), and checks whether the
// leaf itself is a root (CertPool.contains). Roots of one subject are added
// in load order, so candidates are tried in the order of a full pool. It
// returns nil when the index is empty, so that Verify uses crypto/x509's
// system pool (and its fallback roots or its error), as tls would.
func (s *Store) rootsFor(certs []*x509.Certificate) *x509.CertPool {
	s.load()
	if s.count == 0 {
		return nil
	}
	pool := x509.NewCertPool()
	for i, c := range certs {
		issuer := string(c.RawIssuer)
		seen := false
		for _, d := range certs[:i] {
			if string(d.RawIssuer) == issuer {
				seen = true
				break
			}
		}
		if seen {
			continue
		}
		bucket := s.bySubject[issuer]
		for i := range bucket {
			if cert := s.cert(bucket, i); cert != nil {
				pool.AddCert(cert)
			}
		}
	}
	leaf := certs[0]
	for _, r := range s.bySubject[string(leaf.RawSubject)] {
		if bytes.Equal(r.getDER(), leaf.Raw) {
			pool.AddCert(leaf) // the same DER: the root is the leaf
		}
	}
	return pool
}

// forcedFallbackRoots reports whether GODEBUG sets x509usefallbackroots=1
// (the environment's setting overriding the binary's default), which makes
// crypto/x509 use the roots given to x509.SetFallbackRoots instead of the
// system's.
func forcedFallbackRoots() bool {
	v := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "DefaultGODEBUG" {
				if w, ok := godebugValue(s.Value, "x509usefallbackroots"); ok {
					v = w
				}
			}
		}
	}
	if w, ok := godebugValue(os.Getenv("GODEBUG"), "x509usefallbackroots"); ok {
		v = w
	}
	return v == "1"
}

// godebugValue returns the last setting of key in a GODEBUG string (the
// last one wins, as in internal/godebug).
func godebugValue(godebug, key string) (value string, ok bool) {
	for _, kv := range strings.Split(godebug, ",") {
		if k, v, found := strings.Cut(strings.TrimSpace(kv), "="); found && k == key {
			value, ok = v, true
		}
	}
	return value, ok
}

// ClientConfig is the TLS client configuration every outbound client of
// the functions uses for host: TLS 1.2 at least, the server name set (so
// that a copy made to reach an IP address still knows what to verify), and
// the system's roots parsed only as a presented chain names them; or, when
// rootCAs is given (tests trust a test CA with it), those roots verified
// by crypto/tls as usual.
func ClientConfig(host string, rootCAs *x509.CertPool) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	if rootCAs != nil {
		cfg.RootCAs = rootCAs
		return cfg
	}
	return System().TLSConfig(cfg)
}
