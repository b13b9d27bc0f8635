package testenv

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// CutProxy forwards connections to target but closes both sides once more
// than after bytes have flowed from target to the client: a connection
// killed mid-stream. It returns the proxy's address.
func CutProxy(t testing.TB, target string, after int64) string {
	return proxy(t, target, func(dst io.Writer, src io.Reader) { _, _ = io.CopyN(dst, src, after) })
}

// SlowProxy forwards connections to target, passing at most rate bytes a
// second from target to the client: a slow network, so that a transfer is
// reliably under way when a test acts.
func SlowProxy(t testing.TB, target string, rate int) string {
	return proxy(t, target, func(dst io.Writer, src io.Reader) {
		buf := make([]byte, max(rate/10, 1))
		for {
			n, err := src.Read(buf)
			if n > 0 {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
				time.Sleep(100 * time.Millisecond * time.Duration(n) / time.Duration(len(buf)))
			}
			if err != nil {
				return
			}
		}
	})
}

// proxy listens on a free loopback port and forwards each connection to
// target: client to target as is, target to client through downstream.
// When downstream returns both sides are closed. It stops with the test.
func proxy(t testing.TB, target string, downstream func(dst io.Writer, src io.Reader)) string {
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
				downstream(c, u)
				c.Close()
				u.Close()
			}()
		}
	}()
	return l.Addr().String()
}
