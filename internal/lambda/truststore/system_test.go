package truststore

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestHelperSystemRoots is run as a child process by TestSystemMirrorsGo
// (crypto/x509 loads the system roots once per process): it prints whether
// the store's roots, all parsed, are the pool crypto/x509 loads, for the
// environment it was given.
func TestHelperSystemRoots(t *testing.T) {
	if os.Getenv("TRUSTSTORE_HELPER") != "1" {
		t.Skip("run by TestSystemMirrorsGo")
	}
	goPool, err := x509.SystemCertPool()
	if err != nil {
		fmt.Printf("RESULT error=%v\n", err)
		return
	}
	s := newSystem()
	ours := x509.NewCertPool()
	n := 0
	for _, roots := range s.bySubjectLoaded() {
		for i := range roots {
			if c := s.cert(roots, i); c != nil {
				ours.AddCert(c)
				n++
			}
		}
	}
	fmt.Printf("RESULT indexed=%d parsable=%d equal=%v\n", s.Len(), n, ours.Equal(goPool))
}

func (s *Store) bySubjectLoaded() map[string][]*root {
	s.load()
	return s.bySubject
}

// TestSystemMirrorsGo checks that System reads the files crypto/x509 reads:
// SSL_CERT_FILE (first readable file only), SSL_CERT_DIR (colon-separated,
// a missing directory read as none, symlinks within a directory skipped),
// and the defaults.
func TestSystemMirrorsGo(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("mirrors the Linux file list")
	}
	f := getFixture(t)
	dir := t.TempDir()
	pemOf := func(es ...*entity) []byte {
		var b bytes.Buffer
		for _, e := range es {
			pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: e.cert.Raw})
		}
		return b.Bytes()
	}
	write := func(path string, data []byte) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	symlink := func(target, link string) {
		t.Helper()
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	bundle := filepath.Join(dir, "bundle.pem")
	write(bundle, pemOf(f.rootM, f.rootR, f.rootRExpired))
	dirA := filepath.Join(dir, "a")
	other := filepath.Join(dir, "other")
	write(filepath.Join(dirA, "a.pem"), pemOf(f.rootA, f.rootX))
	symlink("a.pem", filepath.Join(dirA, "abcd1234.0")) // a hash link: skipped
	write(filepath.Join(other, "b.pem"), pemOf(f.rootK1, f.rootK2))
	symlink(filepath.Join(other, "b.pem"), filepath.Join(dirA, "b.pem")) // read
	symlink("../other/b.pem", filepath.Join(dirA, "b2.pem"))             // read (a slash)
	write(filepath.Join(dirA, "sub", "c.pem"), pemOf(f.rootU))           // not read
	write(filepath.Join(dirA, "junk.txt"), []byte("not a certificate\n"))
	odd := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Headers: map[string]string{"X": "y"}, Bytes: f.rootOldX.cert.Raw})
	odd = append(odd, pem.EncodeToMemory(&pem.Block{Type: "TRUSTED CERTIFICATE", Bytes: f.leafPinned.cert.Raw})...)
	odd = append(odd, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x01}})...)
	odd = append(odd, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: append(append([]byte(nil), f.interA.cert.Raw...), 0)})...)
	odd = append(odd, pemOf(f.interX)...)
	write(filepath.Join(dirA, "odd.pem"), odd)
	missing := filepath.Join(dir, "missing")

	for _, c := range []struct {
		name      string
		env       []string
		wantRoots int // -1: the machine's, only checked to be equal
	}{
		{"file and dir", []string{"SSL_CERT_FILE=" + bundle, "SSL_CERT_DIR=" + dirA}, 3 + 2 + 2 + 1},
		{"missing file, dirs", []string{"SSL_CERT_FILE=" + missing, "SSL_CERT_DIR=" + dirA + ":" + missing + ":" + other}, 2 + 2 + 1},
		{"file, missing dir", []string{"SSL_CERT_FILE=" + bundle, "SSL_CERT_DIR=" + missing}, 3},
		{"a directory as the file", []string{"SSL_CERT_FILE=" + dirA, "SSL_CERT_DIR=" + other}, 2},
		{"defaults", nil, -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSystemRoots$", "-test.count=1", "-test.v")
			env := []string{"TRUSTSTORE_HELPER=1"}
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "SSL_CERT_FILE=") && !strings.HasPrefix(kv, "SSL_CERT_DIR=") {
					env = append(env, kv)
				}
			}
			cmd.Env = append(env, c.env...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			var indexed, parsable int
			var equal bool
			i := bytes.Index(out, []byte("RESULT "))
			if i < 0 {
				t.Fatalf("no result:\n%s", out)
			}
			if _, err := fmt.Sscanf(string(out[i:]), "RESULT indexed=%d parsable=%d equal=%t", &indexed, &parsable, &equal); err != nil {
				t.Fatalf("%v:\n%s", err, out)
			}
			t.Logf("indexed %d, parsable %d, same pool as crypto/x509: %v", indexed, parsable, equal)
			if !equal {
				t.Error("the store's roots differ from crypto/x509's")
			}
			if c.wantRoots >= 0 && parsable != c.wantRoots {
				t.Errorf("%d roots, want %d", parsable, c.wantRoots)
			}
		})
	}
}

func TestRawSubject(t *testing.T) {
	f := getFixture(t)
	for _, e := range f.all {
		got, ok := rawSubject(e.cert.Raw)
		if !ok || !bytes.Equal(got, e.cert.RawSubject) {
			t.Errorf("%s: rawSubject = %x, %v", e.cert.Subject, got, ok)
		}
	}
	// The machine's roots (RSA, ECDSA, v1 and v3 certificates).
	data, err := os.ReadFile(systemBundle)
	if err != nil {
		t.Skip(err)
	}
	n := 0
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			continue
		}
		n++
		if got, ok := rawSubject(b.Bytes); !ok || !bytes.Equal(got, c.RawSubject) {
			t.Errorf("%s: rawSubject = %x, %v", c.Subject, got, ok)
		}
	}
	t.Logf("%d machine roots checked", n)
	for _, bad := range [][]byte{nil, {0x30}, {0x30, 0x80}, {0x30, 0x85, 1, 1, 1, 1, 1}, {0x30, 0x84, 0xff, 0xff, 0xff, 0xff}, {0x1f, 0x01, 0x00}, {0x30, 0x02, 0x30, 0x00}} {
		if _, ok := rawSubject(bad); ok {
			t.Errorf("rawSubject(%x) ok", bad)
		}
	}
}

func FuzzRawSubject(f *testing.F) {
	fx := getFixture(f)
	for _, e := range fx.all[:4] {
		f.Add(e.cert.Raw)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		got, ok := rawSubject(der)
		c, err := x509.ParseCertificate(der)
		if err == nil && (!ok || !bytes.Equal(got, c.RawSubject)) {
			t.Fatalf("ParseCertificate's subject %x, rawSubject's %x (%v)", c.RawSubject, got, ok)
		}
	})
}

func TestGodebugValue(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"", "", false},
		{"x509usefallbackroots=1", "1", true},
		{"a=1,x509usefallbackroots=1,x509usefallbackroots=0", "0", true},
		{"x509usefallbackroots=0, x509usefallbackroots=1", "1", true},
		{"x509usefallbackrootsx=1", "", false},
	} {
		got, ok := godebugValue(c.in, "x509usefallbackroots")
		if got != c.want || ok != c.ok {
			t.Errorf("godebugValue(%q) = %q, %v", c.in, got, ok)
		}
	}
}
