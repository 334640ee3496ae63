//go:build !linux

package warmconn

import (
	"net"
	"testing"
)

// queued cannot tell here.
func queued(*testing.T, net.Conn) (int, bool) { return 0, false }
