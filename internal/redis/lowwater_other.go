//go:build !unix

package redis

import (
	"errors"
	"net"
)

// setLowWater is not implemented here: reads wake for every segment.
func setLowWater(net.Conn, int, int) error { return errors.New("SO_RCVLOWAT not supported") }
