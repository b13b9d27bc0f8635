package testenv

import (
	"io"
	"net"
	"sync"
	"testing"
)

// CutProxy listens on a free loopback port and forwards each connection to
// target, but closes both sides once more than after bytes have flowed from
// target to the client: a connection killed mid-stream. It returns the
// proxy's address; it stops when the test ends.
func CutProxy(t testing.TB, target string, after int64) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen for proxy: %v", err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(u, c); u.Close() }()
			go func() {
				defer wg.Done()
				_, _ = io.CopyN(c, u, after)
				c.Close()
				u.Close()
			}()
		}
	}()
	return l.Addr().String()
}
