//go:build unix

package dynalite

import (
	"syscall"
	"testing"
)

// Freeze stops the server's process (SIGSTOP) without ending it: the
// kernel still accepts connections on its port, but no request is
// answered, which is how a table that hangs looks to a client. Thaw
// resumes it; Cleanup ends it either way.
func (s *Server) Freeze(t testing.TB) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("freeze dynalite: %v", err)
	}
}

// Thaw resumes a frozen server (SIGCONT).
func (s *Server) Thaw(t testing.TB) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatalf("thaw dynalite: %v", err)
	}
}
