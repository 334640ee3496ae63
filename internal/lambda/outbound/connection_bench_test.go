//go:build linux

package outbound

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/complycube-session/createsession/internal/lambda/truststore"
)

// The test binary is also BenchmarkConnection's TLS server: a server in
// this process would put its handshake CPU (the signature, the other half of
// the key exchange) in the client's getrusage figures.
const (
	benchServerEnv = "OUTBOUND_BENCH_SERVER" // "1": serve instead of testing
	benchCertEnv   = "OUTBOUND_BENCH_CERT"   // PEM: leaf, then intermediate
	benchKeyEnv    = "OUTBOUND_BENCH_KEY"    // PEM: the leaf's PKCS #8 key
)

const (
	benchHost = "bench.example"
	// The bundle crypto/x509 reads on Debian; Amazon Linux 2023's has about
	// as many roots.
	benchSystemBundle = "/etc/ssl/certs/ca-certificates.crt"
	// Sizes of a session request to ComplyCube and of its answer.
	benchRequest = `{"clientId":"5f1c6b3e9a8d4c2b1e0f7a6d","type":"document_capture","enableBackgroundCheck":false}`
	benchAnswer  = `{"id":"6a2f0c1d8e9b7a5c4d3e2f10","clientId":"5f1c6b3e9a8d4c2b1e0f7a6d","token":"eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"}`
)

func TestMain(m *testing.M) {
	if os.Getenv(benchServerEnv) == "1" {
		if err := serveBench(); err != nil {
			fmt.Fprintln(os.Stderr, "outbound bench server:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serveBench serves benchAnswer over TLS on a loopback port it prints on
// stdout, until stdin closes: the benchmark holds stdin open, so that the
// server also goes away if the benchmark dies before killing it.
func serveBench() error {
	cert, err := tls.LoadX509KeyPair(os.Getenv(benchCertEnv), os.Getenv(benchKeyEnv))
	if err != nil {
		return err
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	})
	if err != nil {
		return err
	}
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost {
				http.Error(w, "POST only", http.StatusMethodNotAllowed)
				return
			}
			if _, err := io.Copy(io.Discard, r.Body); err != nil {
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, benchAnswer)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	if _, err := fmt.Println(ln.Addr()); err != nil {
		return err
	}
	return srv.Serve(ln)
}

// BenchmarkConnection measures what one new outbound HTTPS connection costs
// the function's process in CPU: TCP connect, a TLS 1.3 handshake with Go's
// default key exchange (X25519MLKEM768), the verification of the server's
// chain with the trust store (the machine's bundle, about 145 roots as on
// Amazon Linux 2023, plus the test root), then one POST of a small JSON body
// over HTTP/1.1 and the read of a small JSON answer, through a new
// Transport each time. The server is a child process, so that cpu-ns/op,
// the user and system CPU time of this process (getrusage, garbage
// collection included), is the client's share alone; ns/op also waits for
// the server and depends on how busy the machine is.
//
// For each server chain (root -> intermediate -> leaf, RSA-2048 throughout
// like AWS's, or P-256 throughout like Cloudflare's):
//
//   - first: a new trust store each time, so its index is loaded and the
//     root parsed: what the first connection of a cold start pays, but
//     for the process's one-time costs (package state initialised on first
//     use), which the iterations amortise;
//   - next: one store, its root already parsed: what each further new
//     connection pays;
//   - next-x25519-only: next, with X25519 alone, to show the share of the
//     post-quantum key exchange (which the functions keep).
//
// Run it with
//
//	go test -run '^$' -bench Connection -count 5 ./internal/lambda/outbound
func BenchmarkConnection(b *testing.B) {
	system, err := os.ReadFile(benchSystemBundle)
	if err != nil {
		b.Skip(err)
	}
	kinds := []struct {
		name   string
		newKey func() (crypto.Signer, error)
	}{
		{"rsa2048", func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 2048) }},
		{"ecdsa-p256", func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }},
	}
	for _, kind := range kinds {
		b.Run(kind.name, func(b *testing.B) {
			bundle, url := startBenchServer(b, system, kind.newKey)
			base := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: benchHost}
			b.Run("first", func(b *testing.B) {
				measureCPU(b, func() {
					store := truststore.FromFiles(bundle, nil)
					benchPost(b, store.TLSConfig(base), url, tls.X25519MLKEM768)
					if n := store.Parsed(); n != 1 {
						b.Fatalf("%d roots parsed, want the test root only", n)
					}
				})
			})
			b.Run("next", func(b *testing.B) {
				cfg := truststore.FromFiles(bundle, nil).TLSConfig(base)
				benchPost(b, cfg, url, tls.X25519MLKEM768)
				measureCPU(b, func() { benchPost(b, cfg, url, tls.X25519MLKEM768) })
			})
			b.Run("next-x25519-only", func(b *testing.B) {
				classical := base.Clone()
				classical.CurvePreferences = []tls.CurveID{tls.X25519}
				cfg := truststore.FromFiles(bundle, nil).TLSConfig(classical)
				benchPost(b, cfg, url, tls.X25519)
				measureCPU(b, func() { benchPost(b, cfg, url, tls.X25519) })
			})
		})
	}
}

// measureCPU runs op in a b.Loop and reports the process's CPU time per
// operation.
func measureCPU(b *testing.B, op func()) {
	b.ReportAllocs()
	start := processCPU(b)
	for b.Loop() {
		op()
	}
	b.ReportMetric(float64(processCPU(b)-start)/float64(b.N), "cpu-ns/op")
}

// processCPU is the process's user and system CPU time so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchPost makes one POST on a new connection, and checks that it was the
// connection the benchmark claims to measure: a full TLS 1.3 handshake with
// the given key exchange, and HTTP/1.1.
func benchPost(b *testing.B, cfg *tls.Config, url string, curve tls.CurveID) {
	t := Transport(cfg)
	// Also closes the connection if the read loop hands it back to the
	// pool after this returns.
	defer t.CloseIdleConnections()
	resp, err := (&http.Client{Transport: t}).Post(url, "application/json", strings.NewReader(benchRequest))
	if err != nil {
		b.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		b.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Proto != "HTTP/1.1" || string(body) != benchAnswer {
		b.Fatalf("got %s %s %q", resp.Proto, resp.Status, body)
	}
	if s := resp.TLS; s == nil || s.Version != tls.VersionTLS13 || s.CurveID != curve || s.DidResume {
		b.Fatalf("TLS state %+v, want TLS 1.3 with %v, not resumed (GODEBUG=%q)", s, curve, os.Getenv("GODEBUG"))
	}
}

// startBenchServer writes a test chain for benchHost made with newKey's
// keys and the client's bundle (system plus the test root) under a
// temporary directory, starts the server with that chain, and returns the
// bundle's path and the server's URL.
func startBenchServer(b *testing.B, system []byte, newKey func() (crypto.Signer, error)) (bundle, url string) {
	b.Helper()
	dir := b.TempDir()
	rootDER, chainPEM, keyPEM := benchChain(b, newKey)

	var buf bytes.Buffer
	buf.Write(system)
	if len(system) > 0 && system[len(system)-1] != '\n' {
		buf.WriteByte('\n')
	}
	if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: rootDER}); err != nil {
		b.Fatal(err)
	}
	bundle = filepath.Join(dir, "bundle.pem")
	certFile := filepath.Join(dir, "chain.pem")
	keyFile := filepath.Join(dir, "key.pem")
	for name, data := range map[string][]byte{bundle: buf.Bytes(), certFile: chainPEM, keyFile: keyPEM} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			b.Fatal(err)
		}
	}

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), benchServerEnv+"=1", benchCertEnv+"="+certFile, benchKeyEnv+"="+keyFile)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("bench server: no address: %v", err)
	}
	return bundle, "https://" + strings.TrimSpace(line) + "/"
}

// benchChain returns a root's DER, the PEM of a leaf for benchHost and of
// the intermediate that issued it (what the server sends), and the PEM of
// the leaf's key.
func benchChain(b *testing.B, newKey func() (crypto.Signer, error)) (rootDER, chainPEM, keyPEM []byte) {
	b.Helper()
	keys := make([]crypto.Signer, 3)
	for i := range keys {
		k, err := newKey()
		if err != nil {
			b.Fatal(err)
		}
		keys[i] = k
	}
	rootKey, interKey, leafKey := keys[0], keys[1], keys[2]
	notBefore, notAfter := time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	name := func(cn string) pkix.Name {
		return pkix.Name{Organization: []string{"createsession outbound bench"}, CommonName: cn}
	}
	create := func(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, []byte) {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			b.Fatal(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			b.Fatal(err)
		}
		return cert, der
	}

	rootTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               name("Bench Root CA"),
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	root, rootDER := create(rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	inter, interDER := create(&x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               name("Bench Intermediate CA"),
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, root, interKey.Public(), rootKey)
	_, leafDER := create(&x509.Certificate{
		SerialNumber: big.NewInt(3),
		Subject:      name(benchHost),
		DNSNames:     []string{benchHost},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, inter, leafKey.Public(), interKey)

	pkcs8, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		b.Fatal(err)
	}
	chainPEM = append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: interDER})...)
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	return rootDER, chainPEM, keyPEM
}
