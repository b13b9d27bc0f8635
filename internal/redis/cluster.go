package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rdbak/rdbak/cluster"
)

// ClusterState returns CLUSTER INFO's cluster_state: "ok" or "fail".
func (c *Client) ClusterState(ctx context.Context) (string, error) {
	s, err := c.rdb.ClusterInfo(ctx).Result()
	if err != nil {
		return "", c.wrap("CLUSTER INFO", err)
	}
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "cluster_state:"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("CLUSTER INFO of %s has no cluster_state", c.rdb.Options().Addr)
}

// ClusterNodes returns CLUSTER NODES parsed: the topology as this node
// sees it, the slots this node migrates or imports, and its own id.
func (c *Client) ClusterNodes(ctx context.Context) (cluster.Topology, []cluster.Migration, string, error) {
	s, err := c.rdb.ClusterNodes(ctx).Result()
	if err != nil {
		return cluster.Topology{}, nil, "", c.wrap("CLUSTER NODES", err)
	}
	t, migs, myself, err := cluster.ParseNodes(s)
	if err != nil {
		return t, nil, "", fmt.Errorf("read CLUSTER NODES of %s: %w", c.rdb.Options().Addr, err)
	}
	return t, migs, myself, nil
}

// ClusterTopology reads the topology with CLUSTER SHARDS (Redis 7.0+,
// Valkey), which also gives each node's health and replication offset, or
// with CLUSTER NODES on servers that do not know SHARDS (6.2).
func (c *Client) ClusterTopology(ctx context.Context) (cluster.Topology, error) {
	shards, err := c.rdb.ClusterShards(ctx).Result()
	var rerr goredis.Error
	if errors.As(err, &rerr) && !errors.Is(classify(err), ErrNoPerm) {
		t, _, _, err := c.ClusterNodes(ctx)
		return t, err
	}
	if err != nil {
		return cluster.Topology{}, c.wrap("CLUSTER SHARDS", err)
	}
	var t cluster.Topology
	for _, sh := range shards {
		s := cluster.Shard{}
		for _, r := range sh.Slots {
			s.Slots = append(s.Slots, cluster.Range{Start: int(r.Start), End: int(r.End)})
		}
		for _, n := range sh.Nodes {
			port := n.Port
			if port == 0 {
				port = n.TLSPort
			}
			node := cluster.Node{ID: n.ID, Addr: net.JoinHostPort(n.IP, strconv.FormatInt(port, 10)), Hostname: n.Hostname,
				Role: n.Role, Health: n.Health, Offset: n.ReplicationOffset}
			if n.Role == cluster.RoleMaster {
				s.Master = node
			} else {
				s.Replicas = append(s.Replicas, node)
			}
		}
		t.Shards = append(t.Shards, s)
	}
	t.Normalize()
	return t, nil
}

// Restore is one RESTORE key ttl payload REPLACE ABSTTL.
type Restore struct {
	Key     []byte
	TTL     int64 // absolute expiry in Unix milliseconds, 0 for none
	Payload []byte
}

// RestoreBatch sends the restores pipelined and returns each one's error
// reply (nil for OK). A transport failure is returned as err: then none of
// the replies can be trusted.
func (c *Client) RestoreBatch(ctx context.Context, batch []Restore) ([]error, error) {
	pipe := c.rdb.Pipeline()
	cmds := make([]*goredis.Cmd, len(batch))
	for i, r := range batch {
		cmds[i] = pipe.Do(ctx, "RESTORE", r.Key, r.TTL, r.Payload, "REPLACE", "ABSTTL")
	}
	_, _ = pipe.Exec(ctx)
	errs := make([]error, len(batch))
	for i, cmd := range cmds {
		err := cmd.Err()
		var rerr goredis.Error
		switch {
		case err == nil:
		case errors.As(err, &rerr):
			errs[i] = classify(err)
		case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
			// Redis drops, without a reply, a client whose query buffer
			// outgrows client-query-buffer-limit: a RESTORE of a key
			// larger than that.
			return nil, fmt.Errorf("%w (the server closed the connection; its log says why: a key larger than its client-query-buffer-limit or proto-max-bulk-len is refused so, raise them for the replay)", c.wrap("RESTORE", err))
		default:
			return nil, c.wrap("RESTORE", err)
		}
	}
	return errs, nil
}

// FunctionLoad loads a function library, replacing one of the same name.
func (c *Client) FunctionLoad(ctx context.Context, code string) error {
	if err := c.rdb.FunctionLoadReplace(ctx, code).Err(); err != nil {
		return c.wrap("FUNCTION LOAD REPLACE", err)
	}
	return nil
}

// KeysInSlots returns how many keys the node holds in the slots of rs
// (CLUSTER COUNTKEYSINSLOT, pipelined a thousand slots at a time).
func (c *Client) KeysInSlots(ctx context.Context, rs []cluster.Range) (int64, error) {
	var total int64
	var slots []int
	for _, r := range rs {
		for s := r.Start; s <= r.End; s++ {
			slots = append(slots, s)
		}
	}
	for len(slots) > 0 {
		n := min(len(slots), 1000)
		pipe := c.rdb.Pipeline()
		cmds := make([]*goredis.IntCmd, n)
		for i, s := range slots[:n] {
			cmds[i] = pipe.ClusterCountKeysInSlot(ctx, s)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return 0, c.wrap("CLUSTER COUNTKEYSINSLOT", err)
		}
		for _, cmd := range cmds {
			total += cmd.Val()
		}
		slots = slots[n:]
	}
	return total, nil
}
