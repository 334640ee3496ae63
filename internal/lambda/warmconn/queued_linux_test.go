package warmconn

import (
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// queued returns how many bytes wait unread in conn's socket (SIOCINQ).
func queued(t *testing.T, conn net.Conn) (n int, ok bool) {
	rc, err := tcp(conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var qerr error
	if err := rc.Control(func(fd uintptr) { n, qerr = unix.IoctlGetInt(int(fd), unix.SIOCINQ) }); err != nil || qerr != nil {
		t.Fatal(err, qerr)
	}
	return n, true
}
