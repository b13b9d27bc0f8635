package redis

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
)

// ConfigSet sets one configuration parameter.
func (c *Client) ConfigSet(ctx context.Context, name, value string) error {
	if err := c.rdb.ConfigSet(ctx, name, value).Err(); err != nil {
		return c.wrap("CONFIG SET "+name, err)
	}
	return nil
}

// ShutdownNoSave makes Redis exit at once without writing its in-memory
// data to disk. The connection closing is the success reply.
func (c *Client) ShutdownNoSave(ctx context.Context) error {
	err := c.rdb.Do(ctx, "SHUTDOWN", "NOSAVE").Err()
	var op *net.OpError
	switch {
	case err == nil, errors.Is(err, io.EOF), errors.As(err, &op), strings.Contains(errString(err), "connection reset"):
		return nil
	}
	return c.wrap("SHUTDOWN NOSAVE", err)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
