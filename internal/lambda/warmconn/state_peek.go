//go:build darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package warmconn

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// socketState peeks at the socket without blocking (recv with
// MSG_PEEK|MSG_DONTWAIT), which leaves any byte where it is, for the TLS
// layer. Nothing to read means the server has neither closed nor reset the
// connection; end of stream means it closed it; ECONNRESET that it reset
// it. When bytes are waiting (a TLS 1.3 session ticket, an HTTP/2 server's
// SETTINGS) a FIN behind them cannot be seen this way, so the answer is
// unknown and the age limit alone applies. These systems (developers'
// machines) have no portable equivalent of Linux's TCP_INFO state.
func socketState(rc syscall.RawConn) liveness {
	var buf [1]byte
	var n int
	var err error
	if cerr := rc.Control(func(fd uintptr) {
		n, _, err = unix.Recvfrom(int(fd), buf[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	}); cerr != nil {
		return unknown
	}
	switch {
	case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EWOULDBLOCK):
		return open
	case errors.Is(err, unix.ECONNRESET):
		return closed
	case err != nil:
		return unknown
	case n == 0:
		return closed
	default:
		return unknown
	}
}
