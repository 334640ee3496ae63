//go:build linux

package warmconn

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// tcpEstablished is TCP_ESTABLISHED of the kernel's tcp_states.h, the
// value of tcp_info's tcpi_state for a connection that neither side has
// closed.
const tcpEstablished = 1

// socketState asks the kernel for the socket's TCP state (getsockopt
// TCP_INFO), which reads nothing from the socket, so bytes the server sent
// after the handshake (TLS 1.3 session tickets, an HTTP/2 server's
// SETTINGS) stay queued for the TLS layer and do not hide a FIN queued
// behind them, as they would from a peek. A connection we have not closed
// is ESTABLISHED until the server closes it (FIN: CLOSE_WAIT) or resets it
// (RST: CLOSE); any state but ESTABLISHED means it cannot carry a request.
// Lambda runs Linux, so this is the check that counts.
func socketState(rc syscall.RawConn) liveness {
	var info *unix.TCPInfo
	var err error
	if cerr := rc.Control(func(fd uintptr) {
		info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); cerr != nil || err != nil {
		return unknown
	}
	if info.State == tcpEstablished {
		return open
	}
	return closed
}
