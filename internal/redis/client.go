package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rdbak/rdbak/backup"
)

// Options says how to reach a Redis server with a Client.
type Options struct {
	Addr     string // host:port
	Username string // ACL user; empty for the default user
	Password string
	TLS      *tls.Config // TLS when set
	// Dial opens the TCP connection; nil means go-redis's default dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Client is the backup.Server of one Redis server, on go-redis.
type Client struct {
	rdb *goredis.Client
}

var _ backup.Server = (*Client)(nil)

// New returns a Client for o. Retries are off: a BGSAVE resent after a lost
// reply would come back as "Background save already in progress" and hide
// what happened, so retrying is the caller's decision. Deadlines and
// cancellation come from each call's ctx.
func New(o Options) *Client {
	return NewClient(goredis.NewClient(&goredis.Options{
		Addr:                  o.Addr,
		Username:              o.Username,
		Password:              o.Password,
		TLSConfig:             o.TLS,
		Dialer:                o.Dial,
		MaxRetries:            -1,
		ContextTimeoutEnabled: true,
		DisableIdentity:       true,
	}))
}

// NewClient wraps an existing go-redis client; closing the Client closes it.
func NewClient(c *goredis.Client) *Client {
	return &Client{rdb: c}
}

// Close closes the underlying go-redis client and its connections.
func (c *Client) Close() error {
	return c.rdb.Close()
}

// Info returns the fields of one INFO section, or of the default sections
// when section is empty. Section headers ("# Server") and blank lines are
// skipped; a section with no fields (such as keyspace on an empty server)
// gives an empty map.
func (c *Client) Info(ctx context.Context, section string) (map[string]string, error) {
	var sections []string
	if section != "" {
		sections = []string{section}
	}
	s, err := c.rdb.Info(ctx, sections...).Result()
	if err != nil {
		return nil, c.wrap("INFO "+section, err)
	}
	return parseInfo(s), nil
}

func parseInfo(s string) map[string]string {
	fields := make(map[string]string)
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = v
		}
	}
	return fields
}

// BGSave sends BGSAVE, or BGSAVE SCHEDULE, and returns the status reply
// ("Background saving started", "Background saving scheduled"). A Redis
// error reply is returned unchanged, e.g. "ERR Background save already in
// progress".
func (c *Client) BGSave(ctx context.Context, schedule bool) (string, error) {
	args := []any{"BGSAVE"}
	if schedule {
		args = append(args, "SCHEDULE")
	}
	s, err := c.rdb.Do(ctx, args...).Text()
	if err != nil {
		return "", c.wrap("BGSAVE", err)
	}
	return s, nil
}

// LastSave returns LASTSAVE: the time of the last successful disk save, or
// the server's start time when it has not saved since.
func (c *Client) LastSave(ctx context.Context) (time.Time, error) {
	sec, err := c.rdb.LastSave(ctx).Result()
	if err != nil {
		return time.Time{}, c.wrap("LASTSAVE", err)
	}
	return time.Unix(sec, 0), nil
}

// ConfigGet returns one configuration parameter. Managed services and
// hardened setups often rename or forbid CONFIG; that error says so and
// points at the config override, since the value then has to be given to
// rdbak instead of read from the server.
func (c *Client) ConfigGet(ctx context.Context, name string) (string, error) {
	m, err := c.rdb.ConfigGet(ctx, name).Result()
	if err != nil {
		var rerr goredis.Error
		if errors.As(err, &rerr) && configUnavailable(rerr.Error()) {
			return "", fmt.Errorf("read config %q from %s: CONFIG is renamed, disabled or not permitted for this user, so give %q as a config override in rdbak's target configuration: %w",
				name, c.rdb.Options().Addr, name, err)
		}
		return "", c.wrap("CONFIG GET "+name, err)
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, nil
		}
	}
	return "", fmt.Errorf("read config %q from %s: no such parameter", name, c.rdb.Options().Addr)
}

// configUnavailable matches the replies to a CONFIG that rename-command
// removed ("ERR unknown command 'CONFIG', ...") or that ACLs forbid
// ("NOPERM ...").
func configUnavailable(msg string) bool {
	return strings.HasPrefix(msg, "ERR unknown command") || strings.HasPrefix(msg, "NOPERM")
}

// wrap returns Redis error replies unchanged, so callers and operators see
// Redis's own text, and adds the command and server to transport errors.
func (c *Client) wrap(cmd string, err error) error {
	var rerr goredis.Error
	if errors.As(err, &rerr) {
		return err
	}
	return fmt.Errorf("send %s to %s: %w", cmd, c.rdb.Options().Addr, err)
}
