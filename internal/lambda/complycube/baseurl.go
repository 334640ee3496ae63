package complycube

import (
	"fmt"
	"net/url"
)

// DefaultBaseURL is ComplyCube's production API.
const DefaultBaseURL = "https://api.complycube.com"

// CheckBaseURL reports whether base can be ComplyCube's base URL: an
// absolute http(s) URL with a host.
func CheckBaseURL(base string) error {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("base URL %q is not an absolute http(s) URL", base)
	}
	return nil
}
