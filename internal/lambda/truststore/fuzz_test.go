package truststore

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"
)

// fuzzHosts are the server names the fuzz test picks from: those of the
// test certificates, wildcards, IP addresses, trailing dots, case.
var fuzzHosts = []string{
	"example.com", "a.wild.example.com", "a.b.wild.example.com", "wild.example.com",
	"EXAMPLE.COM.", "x.example.com", "r.example.com", "ri.example.com",
	"m.example.com", "k.example.com", "www.allowed.test", "evil.test", "allowed.test",
	"notca.example.com", "u.example.com", "self.example.com", "pinned.example.com",
	"127.0.0.1", "::1", "[::1]", "127.0.0.2", "localhost", "Root A",
}

// fuzzTimes are verification times around the certificates' bounds (the
// fuzzer also adds any number of hours to them).
var fuzzTimes = []time.Time{
	now, now.Add(-31 * 24 * time.Hour), now.Add(61 * 24 * time.Hour), now.Add(-2 * year),
	now.Add(-4 * year), now.Add(-6 * year), now.Add(6 * year), now.Add(11 * year),
	now.Add(-19 * year), now.Add(-21 * year),
}

// FuzzSameVerdict feeds chains made of any of the test certificates, in any
// order and number, at any time, for any of the host names, to Go's default
// verification and to the store's VerifyConnection, and requires the same
// verdict and the same error.
func FuzzSameVerdict(f *testing.F) {
	fx := getFixture(f)
	store := FromFiles(fx.bundle, nil)
	index := make(map[*entity]byte)
	for i, e := range fx.all {
		index[e] = byte(i)
	}
	for hi, tc := range verdictCases {
		var pick []byte
		for _, e := range tc.chain(fx.pki) {
			pick = append(pick, index[e])
		}
		host := byte(0)
		for i, h := range fuzzHosts {
			if h == tc.host {
				host = byte(i)
			}
		}
		f.Add(pick, host, byte(hi%len(fuzzTimes)), int16(0))
	}
	f.Fuzz(func(t *testing.T, pick []byte, host, when byte, hours int16) {
		if len(pick) == 0 {
			return
		}
		if len(pick) > 8 {
			pick = pick[:8]
		}
		certs := make([]*x509.Certificate, len(pick))
		for i, b := range pick {
			certs[i] = fx.all[int(b)%len(fx.all)].cert
		}
		name := fuzzHosts[int(host)%len(fuzzHosts)]
		at := fuzzTimes[int(when)%len(fuzzTimes)].Add(time.Duration(hours) * time.Hour)

		want := goVerify(fx.goPool, certs, name, at)
		cfg := store.TLSConfig(&tls.Config{ServerName: name, Time: func() time.Time { return at }})
		got := cfg.VerifyConnection(tls.ConnectionState{PeerCertificates: certs, ServerName: hostnameInSNI(name)})
		switch {
		case (got == nil) != (want == nil):
			t.Fatalf("%s at %v: store %v, Go %v", name, at, got, want)
		case got != nil && got.Error() != want.Error():
			t.Fatalf("%s at %v: errors differ\nstore: %v\nGo:    %v", name, at, got, want)
		}
	})
}
