package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/redis/info"
)

// Options says how to reach a Redis server with a Client.
type Options struct {
	Addr     string // host:port
	Username string // ACL user; empty for the default user
	Password string
	TLS      *tls.Config // TLS when set
	DB       int         // the database commands go to; 0 by default
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
		Addr:       o.Addr,
		Username:   o.Username,
		Password:   o.Password,
		TLSConfig:  o.TLS,
		DB:         o.DB,
		Dialer:     o.Dial,
		MaxRetries: -1,
		// One dial per attempt: go-redis's default of five turned a wrong
		// port (rediss:// against a plaintext one) into a 25 s hang.
		DialerRetries:         1,
		ContextTimeoutEnabled: true,
		DisableIdentity:       true,
	}))
}

// NewClient wraps an existing go-redis client; closing the Client closes it.
func NewClient(c *goredis.Client) *Client {
	return &Client{rdb: c}
}

// Addr is the server's address, as given.
func (c *Client) Addr() string { return c.rdb.Options().Addr }

// Close closes the underlying go-redis client and its connections.
func (c *Client) Close() error {
	return c.rdb.Close()
}

// Info returns the INFO sections asked for (the default sections when
// none), parsed by the one INFO reader, package info. Redis before 7.0
// takes one section per INFO, so several are asked for one at a time.
func (c *Client) Info(ctx context.Context, sections ...string) (*info.Info, error) {
	if len(sections) <= 1 {
		s, err := c.rdb.Info(ctx, sections...).Result()
		if err != nil {
			return nil, c.wrap("INFO "+strings.Join(sections, " "), err)
		}
		return info.Parse(s), nil
	}
	var text strings.Builder
	for _, sec := range sections {
		s, err := c.rdb.Info(ctx, sec).Result()
		if err != nil {
			return nil, c.wrap("INFO "+sec, err)
		}
		text.WriteString(s)
		text.WriteString("\r\n")
	}
	return info.Parse(text.String()), nil
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
		if err := classify(err); errors.Is(err, backup.ErrNotAllowed) {
			// Snapshot says what to do instead.
			return "", fmt.Errorf("send BGSAVE to %s: %w", c.Addr(), err)
		}
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
		err = classify(err)
		if errors.Is(err, ErrUnknownCommand) || errors.Is(err, ErrNoPerm) {
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

// wrap returns Redis error replies as a *ReplyError with Redis's own text,
// so callers can branch on its class and operators see what Redis said
// (with the server and what to fix for a refused password or command), and
// adds the command and server to transport errors.
func (c *Client) wrap(cmd string, err error) error {
	var rerr goredis.Error
	if errors.As(err, &rerr) {
		return explain(cmd, c.rdb.Options().Addr, classify(err))
	}
	if o := c.rdb.Options(); o.TLSConfig != nil && (errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded)) {
		return fmt.Errorf("send %s to %s: %w (no TLS answer: is %s Redis's tls-port? rediss:// needs it; redis:// is for the plaintext port)", cmd, o.Addr, err, o.Addr)
	}
	return fmt.Errorf("send %s to %s: %w", cmd, c.rdb.Options().Addr, err)
}
