//go:build !linux && !darwin && !dragonfly && !freebsd && !netbsd && !openbsd && !solaris

package warmconn

import "syscall"

// socketState cannot ask the socket without reading from it on this
// platform (Windows, Plan 9, wasm, AIX): the age limit alone applies.
func socketState(syscall.RawConn) liveness { return unknown }
