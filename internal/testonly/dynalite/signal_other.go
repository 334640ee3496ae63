//go:build !unix

package dynalite

import "testing"

// Freeze needs SIGSTOP, which this system does not have: the test is
// skipped.
func (s *Server) Freeze(t testing.TB) {
	t.Helper()
	t.Skip("freezing a process needs SIGSTOP (Unix)")
}

// Thaw is Freeze's counterpart; see Freeze.
func (s *Server) Thaw(t testing.TB) {
	t.Helper()
	t.Skip("thawing a process needs SIGCONT (Unix)")
}
