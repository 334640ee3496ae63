// Package cors holds browser origins and the CORS rules the browser-facing
// functions share (create-session and status): which origins may call,
// what a preflight answers, and the headers every answer to an allowed
// origin carries.
package cors

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Origin is a browser origin, normalised: lower-case scheme and host, the
// default port folded away, IPv6 hosts in brackets.
type Origin string

// ParseOrigin parses "scheme://host[:port]" as browsers send it in the Origin
// header and as operators write it in ALLOWED_ORIGINS. A path, query,
// fragment or user-info is an error, and so is a scheme other than http(s).
func ParseOrigin(s string) (Origin, error) {
	if s == "" {
		return "", errors.New("empty origin")
	}
	if strings.ContainsAny(s, "\\%@ \t\r\n") || !IsPrintableASCII(s) {
		return "", fmt.Errorf("origin %q has characters an origin cannot have", s)
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return "", fmt.Errorf("origin %q is not scheme://host[:port]", s)
	}
	scheme = strings.ToLower(scheme)
	if scheme != "https" && scheme != "http" {
		return "", fmt.Errorf("origin %q: scheme must be http or https", s)
	}
	if strings.ContainsAny(rest, "/?#") {
		return "", fmt.Errorf("origin %q has a path, query or fragment", s)
	}
	host, port, err := SplitHostPort(rest)
	if err != nil {
		return "", fmt.Errorf("origin %q: %w", s, err)
	}
	return MakeOrigin(scheme, host, port), nil
}

func MakeOrigin(scheme, host, port string) Origin {
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return Origin(scheme + "://" + host)
}

// SplitHostPort validates an authority without user-info and returns its
// lower-case host (IPv6 without brackets) and port ("" when absent).
func SplitHostPort(authority string) (host, port string, err error) {
	if authority == "" {
		return "", "", errors.New("no host")
	}
	host = authority
	if strings.HasPrefix(authority, "[") {
		end := strings.IndexByte(authority, ']')
		if end < 0 {
			return "", "", errors.New("unclosed IPv6 bracket")
		}
		host = authority[1:end]
		after := authority[end+1:]
		if after != "" {
			if !strings.HasPrefix(after, ":") {
				return "", "", errors.New("junk after IPv6 host")
			}
			port = after[1:]
			if port == "" {
				return "", "", errors.New("empty port")
			}
		}
		ip := net.ParseIP(host)
		if ip == nil || ip.To4() != nil && !strings.Contains(host, ":") {
			return "", "", errors.New("bad IPv6 address")
		}
		if strings.Contains(host, "%") {
			return "", "", errors.New("IPv6 zone not allowed")
		}
		host = strings.ToLower(ip.String())
	} else if i := strings.LastIndexByte(authority, ':'); i >= 0 {
		host, port = authority[:i], authority[i+1:]
		if port == "" {
			return "", "", errors.New("empty port")
		}
	}
	if port != "" {
		n, perr := strconv.Atoi(port)
		if perr != nil || n < 1 || n > 65535 || strings.HasPrefix(port, "0") || strings.HasPrefix(port, "+") {
			return "", "", fmt.Errorf("bad port %q", port)
		}
	}
	if !strings.HasPrefix(authority, "[") {
		host = strings.ToLower(host)
		if !ValidHostname(host) {
			return "", "", fmt.Errorf("bad host %q", host)
		}
	}
	return host, port, nil
}

// ValidHostname accepts DNS names (letters, digits, '-', dots between
// labels, punycode for IDNs) and dotted IPv4. Anything a browser would
// re-interpret (percent-escapes, Unicode, empty labels) is refused.
func ValidHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	h = strings.TrimSuffix(h, ".")
	labels, last := 0, ""
	for rest := h; ; {
		label, after, more := strings.Cut(rest, ".")
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
		labels, last = labels+1, label
		if !more {
			break
		}
		rest = after
	}
	// A last label of digits only must be a well-formed dotted IPv4, or a
	// browser would read "1.2.3.0x4" or "2130706433" as an address.
	if isDigits(last) || strings.HasPrefix(last, "0x") {
		ip := net.ParseIP(h)
		return ip != nil && ip.To4() != nil && labels == 4
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func IsPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// List is an allowlist of origins; AnyOrigin allows all.
type List struct {
	AnyOrigin bool
	Origins   []Origin
}

// Allows reports whether o is on the list.
func (l List) Allows(o Origin) bool {
	if l.AnyOrigin {
		return true
	}
	for _, a := range l.Origins {
		if a == o {
			return true
		}
	}
	return false
}

// Empty reports whether the list allows nothing.
func (l List) Empty() bool { return !l.AnyOrigin && len(l.Origins) == 0 }

// String renders the list as it would be configured.
func (l List) String() string {
	if l.AnyOrigin {
		return "*"
	}
	s := make([]string, len(l.Origins))
	for i, o := range l.Origins {
		s[i] = string(o)
	}
	return strings.Join(s, ",")
}

// ParseList parses a comma-separated list; "*" alone allows any.
func ParseList(v string) (List, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return List{}, nil
	}
	if v == "*" {
		return List{AnyOrigin: true}, nil
	}
	var l List
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "*" {
			return List{}, errors.New(`"*" must stand alone`)
		}
		o, err := ParseOrigin(part)
		if err != nil {
			return List{}, err
		}
		l.Origins = append(l.Origins, o)
	}
	return l, nil
}
