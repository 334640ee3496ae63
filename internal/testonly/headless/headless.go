// Package headless starts Debian's chromium for the browser tests, with
// the flags this workplace's closed network needs, in a fresh user-data
// folder.
package headless

import (
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// Options are the allocator options of a headless chromium: found where
// Debian installs it (or $CHROMIUM), a user-data folder of the test's own,
// and no background networking, first-run, component updates, sync or
// QUIC, which would only try the closed network.
func Options(t testing.TB) []chromedp.ExecAllocatorOption {
	t.Helper()
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Path(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
	}
}

// Path finds Debian's chromium. CI installs it; elsewhere the test is
// skipped with a message when it is missing.
func Path(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed (.ci/run installs it with apt-get)")
	}
	t.Skip("chromium is not installed: apt-get install chromium")
	return ""
}
