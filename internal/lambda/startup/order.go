package startup

import (
	"runtime"

	"github.com/complycube-session/createsession/internal/lambda/truststore"
)

// StartFirst runs f in the background and lets it run before the caller
// goes on, until f first blocks (on its first network wait, for a read
// from an AWS service): the step of init that everything else waits for
// then sends its first packet first, and its later steps are the first
// served when answers arrive together. At the 128 MB CPU share every
// millisecond of CPU spent on other connections' handshakes before it is
// some 14 ms that init waits longer (BENCHMARKS.md). wait returns f's
// error.
func StartFirst(f func() error) (wait func() error) {
	done := make(chan error, 1)
	go func() { done <- f() }()
	// With one P (the template sets GOMAXPROCS=1) the new goroutine is the
	// next to run: yielding hands it the CPU until it blocks.
	runtime.Gosched()
	return func() error { return <-done }
}

// PreloadTrustStore indexes the system's trusted roots in the background,
// after the goroutines started before it have had their turn (it yields
// first), so that the first handshake to be verified does not wait for
// the index: it is read while the connections wait for their servers.
func PreloadTrustStore() {
	go func() {
		runtime.Gosched()
		truststore.System().Preload()
	}()
}
