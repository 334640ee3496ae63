// Package testclock is a clock that moves only when a test tells it to,
// for code that takes its clock as a func() time.Time. It is safe for
// concurrent use: the code under test may read it from its own goroutines.
package testclock

import (
	"sync"
	"time"
)

// Clock is a time that moves only by Advance.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New starts a clock at the current second.
func New() *Clock { return At(time.Now().Truncate(time.Second)) }

// At starts a clock at t.
func At(t time.Time) *Clock { return &Clock{now: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
