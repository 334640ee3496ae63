package outbound

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"
)

func TestRetryPause(t *testing.T) {
	if !RetryPause(context.Background(), time.Millisecond, time.Hour) {
		t.Error("no deadline: no retry")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	began := time.Now()
	if RetryPause(ctx, 10*time.Millisecond, 95*time.Millisecond) {
		t.Error("a retry with less than its budget left")
	}
	if time.Since(began) > 50*time.Millisecond {
		t.Error("waited for a retry it would not make")
	}
	if !RetryPause(ctx, 10*time.Millisecond, 10*time.Millisecond) {
		t.Error("no retry with room for it")
	}
	ended, cancelEnded := context.WithCancel(context.Background())
	cancelEnded()
	if RetryPause(ended, time.Millisecond, 0) {
		t.Error("a retry after the caller gave up")
	}
}

func TestCause(t *testing.T) {
	timeout := errors.New("timeout")
	refused := errors.New("connection refused")
	ue := &url.Error{Op: "Post", URL: "https://secret.example/path", Err: refused}
	if got := Cause(context.Background(), ue, timeout); got != refused {
		t.Errorf("%v, want the error without its URL", got)
	}
	if got := Cause(context.Background(), &url.Error{Op: "Post", URL: "u", Err: context.DeadlineExceeded}, timeout); got != timeout {
		t.Errorf("%v, want the timeout", got)
	}
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if got := Cause(ended, refused, timeout); got != timeout {
		t.Errorf("%v after the context ended, want the timeout", got)
	}
}
