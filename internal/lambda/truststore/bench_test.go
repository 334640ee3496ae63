//go:build linux

package truststore

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIndexVsParse compares the store's indexing of the machine's
// bundle (Debian's /etc/ssl/certs/ca-certificates.crt) with what
// crypto/x509 does to the same bytes (AppendCertsFromPEM), reporting the
// process's CPU time per operation (cpu-ns/op, garbage collection included)
// besides the wall time.
func BenchmarkIndexVsParse(b *testing.B) {
	data, err := os.ReadFile(systemBundle)
	if err != nil {
		b.Skip(err)
	}
	run := func(b *testing.B, f func()) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		start := cpuTime(b)
		for b.Loop() {
			f()
		}
		b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
	}
	b.Run("index", func(b *testing.B) {
		run(b, func() {
			s := &Store{bySubject: make(map[string][]*root)}
			s.appendPEM(data)
			if s.count == 0 {
				b.Fatal("no roots")
			}
		})
	})
	b.Run("AppendCertsFromPEM", func(b *testing.B) {
		run(b, func() {
			if !x509.NewCertPool().AppendCertsFromPEM(data) {
				b.Fatal("no roots")
			}
		})
	})
}

// BenchmarkFirstVerify is the cold path of a first handshake's verification:
// loading the roots and verifying one chain, with the store and with a pool
// of every root (what crypto/tls does with the system roots).
func BenchmarkFirstVerify(b *testing.B) {
	f := getFixture(b)
	certs := certsOf([]*entity{f.leafA, f.interA})
	cs := tls.ConnectionState{PeerCertificates: certs, ServerName: "example.com"}
	clock := func() time.Time { return now }
	run := func(b *testing.B, fn func()) {
		b.ReportAllocs()
		start := cpuTime(b)
		for b.Loop() {
			fn()
		}
		b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
	}
	b.Run("store", func(b *testing.B) {
		run(b, func() {
			cfg := FromFiles(f.bundle, nil).TLSConfig(&tls.Config{ServerName: "example.com", Time: clock})
			if err := cfg.VerifyConnection(cs); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("all roots", func(b *testing.B) {
		run(b, func() {
			data, err := os.ReadFile(f.bundle)
			if err != nil {
				b.Fatal(err)
			}
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(data)
			if err := goVerify(pool, certs, "example.com", now); err != nil {
				b.Fatal(err)
			}
		})
	})
}
