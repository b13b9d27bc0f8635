//go:build unix

package redis

import (
	"errors"
	"net"
	"syscall"
)

// setLowWater sets SO_RCVLOWAT on a TCP connection; other connections
// (a port-forward, a proxy's) return an error and are left alone.
func setLowWater(c net.Conn, n int) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return errors.New("not a socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, n)
	}); err != nil {
		return err
	}
	return serr
}
