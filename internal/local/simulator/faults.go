package simulator

import (
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"time"
)

// Fault kinds the simulator can inject.
const (
	FaultReset = iota // the connection is reset without an answer
	Fault500          // 500 internal_server_error
	FaultSlow         // the answer comes after the fault delay
)

// SetFaults makes a share rate (0 to 1) of API calls fail, each at random
// as a reset, a 500 or an answer delayed by slow. Set it before serving.
func (s *Simulator) SetFaults(rate float64, slow time.Duration) {
	s.faultRate, s.faultDelay = rate, slow
}

// Faults returns how many faults of each kind were injected.
func (s *Simulator) Faults() (resets, errors500, slow int64) {
	return s.faults[FaultReset].Load(), s.faults[Fault500].Load(), s.faults[FaultSlow].Load()
}

// injectFault fails the call and returns true, or returns false.
func (s *Simulator) injectFault(w http.ResponseWriter, r *http.Request) bool {
	if s.faultRate <= 0 || mathrand.Float64() >= s.faultRate {
		return false
	}
	kind := mathrand.IntN(3)
	s.faults[kind].Add(1)
	switch kind {
	case FaultReset:
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			conn.Close()
			return true
		}
		apiError(w, http.StatusInternalServerError, "internal_server_error", msgInternal, "")
	case Fault500:
		apiError(w, http.StatusInternalServerError, "internal_server_error", msgInternal, "")
	case FaultSlow:
		select {
		case <-time.After(s.faultDelay):
		case <-r.Context().Done():
			return true
		}
		return false // then answer as usual, late
	}
	return true
}
