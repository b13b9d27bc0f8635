package redis

import (
	"context"
	"fmt"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// scanCount is the COUNT hint of the SCAN that counts keys by type.
const scanCount = 1000

// KindCounts counts the keys of db by TYPE, with SCAN and pipelined TYPE
// calls on one connection. Keys that expire meanwhile answer none and are
// not counted. Meant for a scratch server that nobody else writes to:
// SCAN may return a key twice while the keyspace is resized.
func (c *Client) KindCounts(ctx context.Context, db int) (map[string]int64, error) {
	conn := c.rdb.Conn()
	defer conn.Close()
	if err := conn.Select(ctx, db).Err(); err != nil {
		return nil, c.wrap(fmt.Sprintf("SELECT %d", db), err)
	}
	out := map[string]int64{}
	var cursor uint64
	for {
		keys, next, err := conn.Scan(ctx, cursor, "", scanCount).Result()
		if err != nil {
			return nil, c.wrap("SCAN", err)
		}
		if len(keys) > 0 {
			cmds, err := conn.Pipelined(ctx, func(p goredis.Pipeliner) error {
				for _, k := range keys {
					p.Type(ctx, k)
				}
				return nil
			})
			if err != nil {
				return nil, c.wrap("TYPE", err)
			}
			for _, cmd := range cmds {
				if t := cmd.(*goredis.StatusCmd).Val(); t != "none" {
					out[t]++
				}
			}
		}
		if cursor = next; cursor == 0 {
			return out, nil
		}
	}
}

// Run sends one command, given as words, in db and returns its reply as
// go-redis decodes it (int64, string, []any, nil for a nil reply). A
// Redis error reply is returned as an error with Redis's text.
func (c *Client) Run(ctx context.Context, db int, words []string) (any, error) {
	conn := c.rdb.Conn()
	defer conn.Close()
	// Always SELECT: go-redis returns a closed Conn's connection to the
	// pool with whatever db it had selected.
	if err := conn.Select(ctx, db).Err(); err != nil {
		return nil, c.wrap(fmt.Sprintf("SELECT %d", db), err)
	}
	args := make([]any, len(words))
	for i, w := range words {
		args[i] = w
	}
	v, err := conn.Do(ctx, args...).Result()
	if err == goredis.Nil {
		return nil, nil
	}
	if err != nil {
		return nil, c.wrap(strings.ToUpper(words[0]), err)
	}
	return v, nil
}
