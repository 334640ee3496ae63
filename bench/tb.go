package main

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
)

// benchTB is the part of testing.TB that internal/testonly/dynalite calls
// (Helper, Logf, Fatal, Fatalf, Skipf, Cleanup, Failed), for a main
// program. The embedded interface is nil: any other method would panic,
// and none is called. Fatal and Skip end the call with a panic that do
// turns into an error (a skip is an error here too: the bench cannot
// measure the functions as deployed without their table); Cleanup
// collects what cleanup runs.
type benchTB struct {
	testing.TB
	log io.Writer

	mu       sync.Mutex
	cleanups []func()
	failed   bool
}

// tbStop is the panic of Fatal and Skip.
type tbStop struct{ msg string }

func newBenchTB(log io.Writer) *benchTB { return &benchTB{log: log} }

func (t *benchTB) Helper()      {}
func (t *benchTB) Name() string { return "bench" }

func (t *benchTB) Log(args ...any) { fmt.Fprintln(t.log, append([]any{"bench:"}, args...)...) }
func (t *benchTB) Logf(format string, args ...any) {
	fmt.Fprintf(t.log, "bench: "+format+"\n", args...)
}

func (t *benchTB) Fail() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failed = true
}

func (t *benchTB) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

func (t *benchTB) Error(args ...any)                 { t.Fail(); t.Log(args...) }
func (t *benchTB) Errorf(format string, args ...any) { t.Fail(); t.Logf(format, args...) }
func (t *benchTB) FailNow()                          { t.Fail(); panic(tbStop{"FailNow"}) }
func (t *benchTB) Fatal(args ...any)                 { t.Fail(); panic(tbStop{fmt.Sprint(args...)}) }
func (t *benchTB) Fatalf(format string, args ...any) {
	t.Fail()
	panic(tbStop{fmt.Sprintf(format, args...)})
}
func (t *benchTB) Skip(args ...any) { panic(tbStop{"skipped: " + fmt.Sprint(args...)}) }
func (t *benchTB) Skipf(format string, args ...any) {
	panic(tbStop{"skipped: " + fmt.Sprintf(format, args...)})
}
func (t *benchTB) SkipNow()      { panic(tbStop{"skipped"}) }
func (t *benchTB) Skipped() bool { return false }
func (t *benchTB) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

// do runs f (which calls dynalite with t), turning a Fatal or a Skip into
// an error.
func (t *benchTB) do(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s, ok := r.(tbStop)
			if !ok {
				panic(r)
			}
			err = errors.New(s.msg)
		}
	}()
	f()
	return nil
}

// cleanup runs the collected cleanups, last first.
func (t *benchTB) cleanup() {
	t.mu.Lock()
	fs := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}
