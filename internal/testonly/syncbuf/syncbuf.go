// Package syncbuf is a bytes.Buffer that many goroutines may write to and
// read from at once: the tests' log collectors, the dev server's and the
// emulator's output.
package syncbuf

import (
	"bytes"
	"strings"
	"sync"
	"time"
)

// Buffer is safe for concurrent use. The zero value is empty and ready.
type Buffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	discard bool
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.discard {
		return len(p), nil
	}
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// StopKeeping drops all further writes: load tests would otherwise measure
// their own log buffer as the server's memory.
func (b *Buffer) StopKeeping() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.discard = true
}

// WaitForLine waits up to timeout for a line that holds every part: a
// program's log line arrives a moment after its answer.
func (b *Buffer) WaitForLine(timeout time.Duration, parts ...string) bool {
	return WaitForLine(b.String, timeout, parts...)
}

// WaitForLine polls read's text until a line holds every part, or timeout.
func WaitForLine(read func() string, timeout time.Duration, parts ...string) bool {
	for deadline := time.Now().Add(timeout); ; time.Sleep(20 * time.Millisecond) {
		for _, l := range strings.Split(read(), "\n") {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(l, p)
			}
			if all {
				return true
			}
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}
