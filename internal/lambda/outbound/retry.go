package outbound

import (
	"context"
	"errors"
	"net/url"
	"time"
)

// RetryPause waits wait before a second attempt and reports whether it may
// go ahead: not when ctx's deadline would leave less than budget once the
// wait is over (a retry that cannot finish only spends the caller's time),
// nor when ctx ends during the wait.
func RetryPause(ctx context.Context, wait, budget time.Duration) bool {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl)-wait < budget {
		return false
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Cause is a call's transport error as a client reports it: timeout when
// ctx ran out or a deadline passed; otherwise the error without the
// *url.Error around it, so that the endpoint's address reaches the log
// through the caller's context, not through every error.
func Cause(ctx context.Context, err, timeout error) error {
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return timeout
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
