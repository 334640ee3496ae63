package main

import (
	"io"
	"net"
	"sync"
	"time"
)

// latencyProxy forwards TCP connections to target on loopback and adds a
// simulated network round trip: every chunk of bytes, in either direction,
// arrives half a round trip after it was sent (in order, pipelined), and
// the client's first bytes arrive a whole round trip later still, which is
// what its TCP handshake would have cost on a real network. So a plain HTTP
// call costs 2 round trips, an HTTPS call with TLS 1.3 costs 3, and a call
// on a connection already open costs 1, as they would.
type latencyProxy struct {
	ln     net.Listener
	target string
	rtt    time.Duration
	wg     sync.WaitGroup
}

func startLatencyProxy(target string, rtt time.Duration) (*latencyProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &latencyProxy{ln: ln, target: target, rtt: rtt}
	go p.serve()
	return p, nil
}

func (p *latencyProxy) Addr() string { return p.ln.Addr().String() }

func (p *latencyProxy) Close() {
	p.ln.Close()
	p.wg.Wait()
}

func (p *latencyProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handle(c)
		}()
	}
}

func (p *latencyProxy) handle(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	done := make(chan struct{}, 2)
	go func() { delayedCopy(server, client, p.rtt/2, p.rtt); done <- struct{}{} }()
	go func() { delayedCopy(client, server, p.rtt/2, 0); done <- struct{}{} }()
	<-done
	client.Close()
	server.Close()
	<-done
}

type chunk struct {
	data []byte
	at   time.Time
}

// delayedCopy copies src to dst, delivering each chunk oneWay after it was
// read, and the first one extraFirst later again.
func delayedCopy(dst io.WriteCloser, src io.Reader, oneWay, extraFirst time.Duration) {
	q := make(chan chunk, 1024)
	go func() {
		defer close(q)
		first := true
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				at := time.Now().Add(oneWay)
				if first {
					at = at.Add(extraFirst)
					first = false
				}
				q <- chunk{buf[:n], at}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		time.Sleep(time.Until(c.at))
		if _, err := dst.Write(c.data); err != nil {
			break
		}
	}
	for range q {
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}
