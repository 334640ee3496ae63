package warmconn

import (
	"io"
	"net"
	"testing"
	"time"
)

// TestCheckReadsNothing: the check tells an open connection from one the
// server closed or reset, also when bytes the server sent wait unread in
// front of its FIN, and those bytes are still there to read afterwards.
func TestCheckReadsNothing(t *testing.T) {
	for _, end := range []string{"open", "fin", "rst"} {
		t.Run(end, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			served := make(chan net.Conn, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Write([]byte("hello"))
				served <- c
			}()
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			sc := <-served
			defer sc.Close()
			want := open
			switch end {
			case "fin":
				sc.Close()
				want = closed
			case "rst":
				sc.(*net.TCPConn).SetLinger(0)
				sc.Close()
				want = closed
			}
			// The FIN or RST travels a moment after Close returns.
			got := alive(conn)
			for deadline := time.Now().Add(2 * time.Second); got != want && time.Now().Before(deadline); got = alive(conn) {
				time.Sleep(5 * time.Millisecond)
			}
			if got != want {
				t.Fatalf("alive = %v, want %v", got, want)
			}
			if end == "rst" {
				return // a reset discards what was queued
			}
			conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 5)
			if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "hello" {
				t.Errorf("after the check: read %q, %v; want the server's bytes", buf, err)
			}
		})
	}
}
