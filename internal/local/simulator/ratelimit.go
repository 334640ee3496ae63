package simulator

import "time"

// DefaultRate is ComplyCube's rate limit for sandbox keys, in requests a
// second; the dev server applies it unless told otherwise.
const DefaultRate = 5

// SetRateLimit makes the simulator answer 429 rate_limit_exceeded, with
// Retry-After, to API calls above perSecond a second (ComplyCube's limits:
// 5 for sandbox keys, 10 for live ones). 0, the default of New, is no
// limit. Set it before serving.
func (s *Simulator) SetRateLimit(perSecond float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rate, s.tokens, s.lastRefill = perSecond, perSecond, time.Time{}
}

// allow takes a token from the bucket, or says how long until one is free.
func (s *Simulator) allow() (ok bool, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rate <= 0 {
		return true, 0
	}
	now := time.Now()
	if !s.lastRefill.IsZero() {
		s.tokens = min(s.rate, s.tokens+now.Sub(s.lastRefill).Seconds()*s.rate)
	}
	s.lastRefill = now
	if s.tokens >= 1 {
		s.tokens--
		return true, 0
	}
	return false, time.Duration((1 - s.tokens) / s.rate * float64(time.Second))
}
