package truststore

import (
	"bytes"
	"encoding/pem"
	"os"
	"strings"
	"testing"
)

// goCertBlocks is what x509.CertPool.AppendCertsFromPEM hands to
// ParseCertificate: the Bytes of the blocks pem.Decode returns with Type
// CERTIFICATE and no headers.
func goCertBlocks(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" || len(block.Headers) != 0 {
			continue
		}
		out = append(out, block.Bytes)
	}
	return out
}

// ourCertBlocks is the same through nextPEM, bodies decoded (those that do
// not decode dropped, as they are when a root is first used).
func ourCertBlocks(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		var b pemBlock
		var ok bool
		b, data, ok = nextPEM(data)
		if !ok {
			break
		}
		if !b.certificate {
			continue
		}
		if b.der == nil {
			der, err := decodeBody(b.body)
			if err != nil {
				continue
			}
			b.der = der
		}
		out = append(out, b.der)
	}
	return out
}

func sameBlocks(t *testing.T, data []byte) {
	t.Helper()
	want, got := goCertBlocks(data), ourCertBlocks(data)
	if len(want) != len(got) {
		t.Fatalf("%q:\npem.Decode: %d certificate blocks, nextPEM: %d", data, len(want), len(got))
	}
	for i := range want {
		if !bytes.Equal(want[i], got[i]) {
			t.Fatalf("%q: block %d differs:\npem.Decode: %x\nnextPEM:    %x", data, i, want[i], got[i])
		}
	}
}

// pemCases are inputs on which pem.Decode's edge cases matter.
var pemCases = []string{
	"",
	"-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n",
	"-----BEGIN CERTIFICATE-----\r\nAQID\r\n-----END CERTIFICATE----- \t\r\n",
	"-----BEGIN CERTIFICATE-----\nAQ ID\n\tBA==\n-----END CERTIFICATE-----",
	"junk\n-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\njunk",
	"junk-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n",
	"-----BEGIN CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n",
	"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
	"-----BEGIN CERTIFICATE-----\nA: b\n\nAQID\n-----END CERTIFICATE-----\n",
	"-----BEGIN CERTIFICATE-----\nA: b\n-----END CERTIFICATE-----\n",
	"-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE----- x\n-----BEGIN CERTIFICATE-----\nBAUG\n-----END CERTIFICATE-----\n",
	"-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\r \n",
	"-----BEGIN CERTIFICATE-----\nAQID\n-----END PRIVATE KEY-----\n",
	"-----BEGIN TRUSTED CERTIFICATE-----\nAQID\n-----END TRUSTED CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nBAUG\n-----END CERTIFICATE-----\n",
	// Bodies that are not base64, followed by various things.
	"-----BEGIN CERTIFICATE-----\nAQ!D\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nBAUG\n-----END CERTIFICATE-----\n",
	"-----BEGIN CERTIFICATE-----\nAQ!D\n-----END CERTIFICATE-----\n-----END -----BEGIN CERTIFICATE-----\nBAUG\n-----END CERTIFICATE-----\n",
	"-----BEGIN CERTIFICATE-----\nAQ!D\n-----END CERTIFICATE-----\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nBAUG\n-----END CERTIFICATE-----\n",
	"-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n-----END -----BEGIN CERTIFICATE-----\nBAUG\n-----END CERTIFICATE-----\n",
	"-----BEGIN CERTIFICATE-----\nAQ=D\n-----END CERTIFICATE-----\n",
	"-----BEGIN CERTIFICATE-----\nAQI\n-----END CERTIFICATE-----\n",
	"-----BEGIN X-----\nA!\n-----END X-----\n-----END -----BEGIN CERTIFICATE-----\nBAUG\n-----END CERTIFICATE-----\n",
	"-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----",
	"-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE",
	"-----BEGIN CERTIFICATE-----AQID\n-----END CERTIFICATE-----\n",
	"\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n",
}

func TestNextPEMMatchesDecode(t *testing.T) {
	for _, c := range pemCases {
		sameBlocks(t, []byte(c))
	}
	f := getFixture(t)
	sameBlocks(t, f.bundleData)
	// Line breaks and spaces in other places.
	odd := strings.ReplaceAll(string(f.bundleData), "\n", "\r\n")
	sameBlocks(t, []byte(odd))
	sameBlocks(t, []byte(strings.ReplaceAll(string(f.bundleData), "A", " A\t")))
}

func TestLastIndex(t *testing.T) {
	for _, c := range []struct{ s, sep string }{
		{"", "ab"}, {"ab", "ab"}, {"xabyabz", "ab"}, {"aaaa", "aa"}, {"-----BEGIN -----BEGIN x", "-----BEGIN "},
	} {
		if got, want := lastIndex([]byte(c.s), []byte(c.sep)), strings.LastIndex(c.s, c.sep); got != want {
			t.Errorf("lastIndex(%q, %q) = %d, want %d", c.s, c.sep, got, want)
		}
	}
}

// FuzzNextPEM requires nextPEM to find the certificate blocks pem.Decode
// finds, in the same order, on any input.
func FuzzNextPEM(f *testing.F) {
	for _, c := range pemCases {
		f.Add([]byte(c))
	}
	if data, err := os.ReadFile(systemBundle); err == nil && len(data) > 4096 {
		f.Add(data[:4096])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sameBlocks(t, data)
	})
}

// TestPrefixDecoding: the index reads the subject from a decoded prefix;
// it must be the subject of the whole certificate, for bodies written in
// any of the ways pem.Decode accepts.
func TestPrefixDecoding(t *testing.T) {
	f := getFixture(t)
	for _, e := range f.all {
		text := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.cert.Raw})
		for i, variant := range [][]byte{
			text,
			bytes.ReplaceAll(text, []byte("\n"), []byte("\r\n")),
			bytes.ReplaceAll(text, []byte("M"), []byte("\tM ")),
			bytes.ReplaceAll(text, []byte("\n"), []byte("\n\n")),
		} {
			s := &Store{bySubject: make(map[string][]*root)}
			s.appendPEM(variant)
			bucket := s.bySubject[string(e.cert.RawSubject)]
			if len(bucket) != 1 || (i == 0 || i == 3) && bucket[0].body == nil {
				t.Fatalf("%s, variant %d: not indexed (lazily) under its subject", e.cert.Subject, i)
			}
			if c := s.cert(bucket, 0); c == nil || !bytes.Equal(c.Raw, e.cert.Raw) {
				t.Fatalf("%s: decoded to another certificate", e.cert.Subject)
			}
		}
	}
	// A body whose end is not base64 is dropped (when used, if its
	// prefix decodes), as pem.Decode drops it.
	text := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.leafA.cert.Raw})
	i := bytes.LastIndex(text, []byte("\n-----END"))
	text[i-2] = '!'
	s := &Store{bySubject: make(map[string][]*root)}
	s.appendPEM(text)
	for i, bucket := 0, s.bySubject[string(f.leafA.cert.RawSubject)]; i < len(bucket); i++ {
		if s.cert(bucket, i) != nil {
			t.Error("a body that is not base64 was not dropped")
		}
	}
	if got := goCertBlocks(text); len(got) != 0 {
		t.Error("pem.Decode accepted the broken body")
	}
}

// pemTokens are the pieces FuzzNextPEMTokens builds inputs from, so that
// most inputs are PEM-like, with the edge cases pem.Decode handles.
var pemTokens = []string{
	"-----BEGIN ", "-----END ", "CERTIFICATE", "-----", "\n", "\r\n", "\r", " ", "\t",
	"AQID", "BAUG", "AQ==", "BA=", "!", ":", "Proc-Type: 4,ENCRYPTED\n", "TRUSTED CERTIFICATE",
	"X", "-", "\n-----END CERTIFICATE-----\n", "-----BEGIN CERTIFICATE-----\n",
	"MIIB", "\n\n", "=",
}

// FuzzNextPEMTokens is FuzzNextPEM on inputs made of pemTokens.
func FuzzNextPEMTokens(f *testing.F) {
	f.Add([]byte{20, 9, 10, 19})
	f.Add([]byte{20, 13, 19, 8, 9, 19, 20, 10, 19})
	f.Add([]byte{20, 13, 19, 1, 20, 10, 19})
	f.Fuzz(func(t *testing.T, picks []byte) {
		var b strings.Builder
		for _, p := range picks {
			b.WriteString(pemTokens[int(p)%len(pemTokens)])
		}
		sameBlocks(t, []byte(b.String()))
	})
}
