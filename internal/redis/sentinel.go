package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// ErrUnknownMaster means a Sentinel does not monitor a master of that name.
var ErrUnknownMaster = errors.New("the Sentinel monitors no master of that name")

// Sentinel is a client of one Redis (or Valkey) Sentinel.
type Sentinel struct {
	rdb  *goredis.SentinelClient
	addr string
}

// NewSentinel returns a client for the Sentinel at o.Addr, authenticating
// with o.Username/o.Password (requirepass or an ACL user of the Sentinel
// itself, not of the data nodes). It speaks RESP2 so that every version
// answers SENTINEL REPLICAS the same way.
func NewSentinel(o Options) *Sentinel {
	return &Sentinel{addr: o.Addr, rdb: goredis.NewSentinelClient(&goredis.Options{
		Addr:                  o.Addr,
		Username:              o.Username,
		Password:              o.Password,
		TLSConfig:             o.TLS,
		Dialer:                o.Dial,
		Protocol:              2,
		MaxRetries:            -1,
		DialerRetries:         1,
		ContextTimeoutEnabled: true,
		DisableIdentity:       true,
	})}
}

// Addr is the Sentinel's address.
func (s *Sentinel) Addr() string { return s.addr }

// Close closes the client.
func (s *Sentinel) Close() error { return s.rdb.Close() }

func (s *Sentinel) wrap(cmd string, err error) error {
	if errors.As(err, new(goredis.Error)) {
		return fmt.Errorf("Sentinel %s: %s: %w", s.addr, cmd, classify(err))
	}
	return fmt.Errorf("send %s to Sentinel %s: %w", cmd, s.addr, err)
}

// MasterAddr returns SENTINEL GET-MASTER-ADDR-BY-NAME name as host:port;
// ErrUnknownMaster when the Sentinel does not know the name.
func (s *Sentinel) MasterAddr(ctx context.Context, name string) (string, error) {
	a, err := s.rdb.GetMasterAddrByName(ctx, name).Result()
	if errors.Is(err, goredis.Nil) {
		return "", fmt.Errorf("Sentinel %s: master %q: %w", s.addr, name, ErrUnknownMaster)
	}
	if err != nil {
		return "", s.wrap("SENTINEL GET-MASTER-ADDR-BY-NAME "+name, err)
	}
	if len(a) != 2 {
		return "", fmt.Errorf("Sentinel %s: SENTINEL GET-MASTER-ADDR-BY-NAME %s answered %q, not [ip, port]", s.addr, name, a)
	}
	return net.JoinHostPort(a[0], a[1]), nil
}

// Instance is one entry of SENTINEL MASTER, REPLICAS or SENTINELS.
type Instance struct {
	Addr     string   // ip:port as the Sentinel knows it
	RunID    string   // run_id
	Flags    []string // e.g. master, slave, s_down, o_down, disconnected
	LinkUp   bool     // master-link-status ok (replicas)
	LinkDown int64    // master-link-down-time, ms (replicas)
	Priority int      // slave-priority (replicas)
	Offset   int64    // slave-repl-offset (replicas)
	Quorum   int      // quorum (master)
	Others   int      // num-other-sentinels (master)
	Fields   map[string]string
}

// Has reports whether the instance has flag f.
func (i Instance) Has(f string) bool {
	for _, g := range i.Flags {
		if g == f {
			return true
		}
	}
	return false
}

func instance(m map[string]string) Instance {
	atoi := func(k string) int64 { n, _ := strconv.ParseInt(m[k], 10, 64); return n }
	in := Instance{
		Addr:     net.JoinHostPort(m["ip"], m["port"]),
		RunID:    m["runid"],
		Flags:    strings.Split(m["flags"], ","),
		LinkUp:   m["master-link-status"] == "ok",
		LinkDown: atoi("master-link-down-time"),
		Priority: int(atoi("slave-priority")),
		Offset:   atoi("slave-repl-offset"),
		Quorum:   int(atoi("quorum")),
		Others:   int(atoi("num-other-sentinels")),
		Fields:   m,
	}
	return in
}

// Master returns SENTINEL MASTER name.
func (s *Sentinel) Master(ctx context.Context, name string) (Instance, error) {
	m, err := s.rdb.Master(ctx, name).Result()
	if err != nil {
		if errors.As(err, new(goredis.Error)) && strings.Contains(err.Error(), "No such master") {
			return Instance{}, fmt.Errorf("Sentinel %s: master %q: %w", s.addr, name, ErrUnknownMaster)
		}
		return Instance{}, s.wrap("SENTINEL MASTER "+name, err)
	}
	return instance(m), nil
}

// Replicas returns SENTINEL REPLICAS name.
func (s *Sentinel) Replicas(ctx context.Context, name string) ([]Instance, error) {
	return s.list(ctx, "SENTINEL REPLICAS "+name, s.rdb.Replicas(ctx, name))
}

// Sentinels returns SENTINEL SENTINELS name: the other Sentinels.
func (s *Sentinel) Sentinels(ctx context.Context, name string) ([]Instance, error) {
	return s.list(ctx, "SENTINEL SENTINELS "+name, s.rdb.Sentinels(ctx, name))
}

func (s *Sentinel) list(_ context.Context, cmd string, c *goredis.MapStringStringSliceCmd) ([]Instance, error) {
	ms, err := c.Result()
	if err != nil {
		return nil, s.wrap(cmd, err)
	}
	out := make([]Instance, 0, len(ms))
	for _, m := range ms {
		out = append(out, instance(m))
	}
	return out, nil
}

// Failover sends SENTINEL FAILOVER name.
func (s *Sentinel) Failover(ctx context.Context, name string) error {
	if err := s.rdb.Failover(ctx, name).Err(); err != nil {
		return s.wrap("SENTINEL FAILOVER "+name, err)
	}
	return nil
}

// Digest returns DEBUG DIGEST: a hash of the whole dataset, equal on two
// servers holding the same data.
func (c *Client) Digest(ctx context.Context) (string, error) {
	d, err := c.rdb.Do(ctx, "DEBUG", "DIGEST").Text()
	if err != nil {
		return "", c.wrap("DEBUG DIGEST", err)
	}
	return d, nil
}
