package startup

import (
	"runtime"

	"github.com/complycube-session/createsession/internal/lambda/truststore"
)

// StartFirst runs f in the background and, with one P (the template sets
// GOMAXPROCS=1), lets it run before the caller goes on, until f first
// blocks (on its first network wait, for a read from an AWS service): the
// step of init that everything else waits for then sends its first packet
// before the other connections' handshakes take the CPU. At the 128 MB CPU
// share every millisecond of CPU spent on them before it is some 14 ms
// that init waits longer (BENCHMARKS.md). It orders, it does not
// guarantee: the scheduler may resume the caller early (it serves its
// global queue now and then), and once answers arrive the poller wakes
// goroutines in the order the kernel reports them. With more Ps f and the
// caller simply run side by side. wait returns f's error.
func StartFirst(f func() error) (wait func() error) {
	done := make(chan error, 1)
	go func() { done <- f() }()
	// The new goroutine is the next to run on this P: yielding hands it
	// the CPU until it blocks.
	runtime.Gosched()
	return func() error { return <-done }
}

// PreloadTrustStore indexes the system's trusted roots in the background,
// with one P after the goroutines started before it have had their turn
// (it yields first), so that the first handshake to be verified does not
// wait for the index: it is read while the connections wait for their
// servers.
func PreloadTrustStore() {
	go func() {
		runtime.Gosched()
		truststore.System().Preload()
	}()
}
