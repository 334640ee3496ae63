package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/netip"
)

// SourceAddress is what a source address counts as, for the sign-up limits
// and the logs: an IPv4 address as it is, an IPv6 address by its /64 (one
// customer's network), and an event without a usable one under one shared
// name.
func SourceAddress(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "unknown"
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// KeyedHash is HMAC-SHA256(key, kind, value), URL-safe: how an IP or an
// e-mail address is kept in the shared state and written in the logs,
// never in clear. kind keeps an address's hash in one role from matching
// another.
func KeyedHash(key []byte, kind, value string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// SourceHash is a log line's keyed hash of the request's source address,
// so that many requests from one place can be seen: 16 characters (96
// bits) are plenty to tell places apart and no help to guess them back.
func SourceHash(key []byte, ip string) string {
	return KeyedHash(key, "ip", SourceAddress(ip))[:16]
}
