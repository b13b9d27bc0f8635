//go:build unix

package redis

import (
	"errors"
	"net"
	"syscall"
)

// setLowWater sets SO_RCVLOWAT to n on a TCP connection whose receive
// buffer has grown to at least minBuf; otherwise, and for connections that
// are no sockets (a port-forward's, a proxy's), it returns an error and
// leaves the connection alone.
func setLowWater(c net.Conn, n, minBuf int) error {
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
		buf, err := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
		switch {
		case err != nil:
			serr = err
		case buf < minBuf:
			serr = errors.New("receive buffer still small")
		default:
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, n)
		}
	}); err != nil {
		return err
	}
	return serr
}
