package testenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterOptions configures StartCluster.
type ClusterOptions struct {
	Server   Server // the binary every node runs; redis-server on PATH when zero
	Masters  int    // 3 when 0
	Replicas int    // replicas per master (--cluster-replicas)
	Config   []string
	// Password, when set, is every node's requirepass and masterauth.
	Password string
}

// Cluster is a Redis Cluster of servers owned by one test, created with
// redis-cli --cluster create (valkey-cli for Valkey).
type Cluster struct {
	Nodes    []*Redis
	Server   Server
	Password string
	// Replicas is the number of replica nodes WaitReady waits for every
	// node to see.
	Replicas int
}

// StartCluster starts Masters×(1+Replicas) cluster-enabled servers on free
// loopback ports, joins them with `redis-cli --cluster create ...
// --cluster-replicas R --cluster-yes` and waits until every node reports
// cluster_state:ok, knows every other node, and every replica's link to
// its master is up. It stops them when the test ends.
func StartCluster(t testing.TB, o ClusterOptions) *Cluster {
	t.Helper()
	if o.Masters == 0 {
		o.Masters = 3
	}
	srv := o.Server
	if srv.Path == "" {
		srv = DefaultServer(t)
	}
	c := &Cluster{Server: srv, Replicas: o.Masters * o.Replicas, Password: o.Password}
	conf := append([]string{"cluster-enabled yes", "cluster-config-file nodes.conf", "cluster-node-timeout 5000"}, o.Config...)
	if o.Password != "" {
		conf = append(conf, "masterauth "+o.Password)
	}
	for range o.Masters * (1 + o.Replicas) {
		c.Nodes = append(c.Nodes, startClusterNode(t, srv, o.Password, conf))
	}
	var args []string
	if o.Password != "" {
		args = append(args, "--no-auth-warning", "-a", o.Password)
	}
	args = append(args, "--cluster", "create")
	for _, n := range c.Nodes {
		args = append(args, n.Addr)
	}
	args = append(args, "--cluster-replicas", fmt.Sprint(o.Replicas), "--cluster-yes")
	cli := clusterCLI(t, srv)
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", cli, strings.Join(args, " "), err, out)
	}
	c.WaitReady(t)
	return c
}

// startClusterNode starts one cluster-enabled server. The cluster bus
// listens on the port plus 10000, so a port above 55535 cannot serve: the
// server exits and another port is tried.
func startClusterNode(t testing.TB, srv Server, password string, conf []string) *Redis {
	t.Helper()
	var err error
	for range 5 {
		var r *Redis
		if r, err = TryStartRedis(t, RedisOptions{Server: srv, Password: password, Config: conf}); err == nil {
			return r
		}
	}
	t.Fatalf("start a cluster node: %v", err)
	return nil
}

// clusterCLI is the redis-cli (valkey-cli) beside the server binary, else
// redis-cli on PATH.
func clusterCLI(t testing.TB, srv Server) string {
	t.Helper()
	for _, name := range []string{"redis-cli", "valkey-cli"} {
		p := filepath.Join(filepath.Dir(srv.Path), name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return LookPath(t, "redis-cli")
}

// WaitReady waits until every node reports cluster_state:ok and sees all
// the others and every replica as one, and every replica's master link is
// up.
func (c *Cluster) WaitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	var why string
	for time.Now().Before(deadline) {
		if why = c.notReady(ctx); why == "" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("cluster not ready after a minute: %s", why)
}

func (c *Cluster) notReady(ctx context.Context) string {
	for _, n := range c.Nodes {
		cl := redis.NewClient(&redis.Options{Addr: n.Addr, Password: c.Password})
		info, err := cl.ClusterInfo(ctx).Result()
		nodes, err2 := cl.ClusterNodes(ctx).Result()
		repl, err3 := cl.Info(ctx, "replication").Result()
		_ = cl.Close()
		switch {
		case err != nil || err2 != nil || err3 != nil:
			return fmt.Sprintf("%s: %v %v %v", n.Addr, err, err2, err3)
		case !strings.Contains(info, "cluster_state:ok"):
			return n.Addr + " cluster_state is not ok"
		case strings.Count(strings.TrimSpace(nodes), "\n")+1 != len(c.Nodes) || strings.Contains(nodes, "handshake"):
			return n.Addr + " does not know every node yet"
		case flagsFailing(nodes):
			return n.Addr + " still flags a node fail or fail?"
		case strings.Count(nodes, " slave ")+strings.Count(nodes, ",slave ") != c.Replicas:
			return n.Addr + " does not see every replica yet"
		case strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up"):
			return n.Addr + " replica link is not up"
		}
	}
	return ""
}

// flagsFailing reports whether a CLUSTER NODES reply flags any node fail
// or fail? (gossip has not yet seen a restarted node back).
func flagsFailing(nodes string) bool {
	for _, line := range strings.Split(nodes, "\n") {
		if f := strings.Fields(line); len(f) > 2 && slices.ContainsFunc(strings.Split(f[2], ","), func(flag string) bool { return flag == "fail" || flag == "fail?" }) {
			return true
		}
	}
	return false
}

// Masters returns the nodes that are masters now.
func (c *Cluster) Masters(t testing.TB) []*Redis {
	t.Helper()
	var out []*Redis
	for _, n := range c.Nodes {
		repl, err := n.Client(t).Info(context.Background(), "replication").Result()
		if err != nil {
			t.Fatalf("INFO replication on %s: %v", n.Addr, err)
		}
		if strings.Contains(repl, "role:master") {
			out = append(out, n)
		}
	}
	return out
}

// Client returns a cluster client seeded with every node, closed when the
// test ends.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	var addrs []string
	for _, n := range c.Nodes {
		addrs = append(addrs, n.Addr)
	}
	cl := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, Password: c.Password})
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// URL is the redis:// URL of the first node.
func (c *Cluster) URL() string { return c.Nodes[0].URL() }

// FillCluster writes n keys of every core value type into the cluster, in
// several encodings and spread over all slots, with hash-tagged groups and
// keys with expiries far in the future. The data depends on n only.
func FillCluster(t testing.TB, cl redis.UniversalClient, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rnd := rand.New(rand.NewPCG(3, 4))
	p := cl.Pipeline()
	for i := range n {
		p.Set(ctx, fmt.Sprintf("int:%d", i), i*7919, 0)
		p.Set(ctx, fmt.Sprintf("str:%d", i), fmt.Sprintf("value-%d-%s", i, strings.Repeat("ab", i%40)), 0)
		p.Set(ctx, fmt.Sprintf("{tag%d}:ttl", i%7), "expiring", time.Duration(24+i)*time.Hour)
		p.Set(ctx, fmt.Sprintf("{tag%d}:s%d", i%7, i), i, 0)
		p.RPush(ctx, fmt.Sprintf("list:%d", i%20), i, fmt.Sprintf("elem-%d", i))
		p.HSet(ctx, fmt.Sprintf("hash:%d", i%20), fmt.Sprintf("f%d", i), fmt.Sprintf("v%d", i))
		p.SAdd(ctx, fmt.Sprintf("intset:%d", i%10), i)
		p.SAdd(ctx, fmt.Sprintf("set:%d", i%10), fmt.Sprintf("member-%d", i))
		p.ZAdd(ctx, fmt.Sprintf("zset:%d", i%10), redis.Z{Score: float64(i) / 3, Member: fmt.Sprintf("m%d", i)})
		p.XAdd(ctx, &redis.XAddArgs{Stream: fmt.Sprintf("stream:%d", i%3), Values: []any{"n", i}})
	}
	for i := range 600 { // hashtable / quicklist / skiplist encodings
		p.HSet(ctx, "bighash", fmt.Sprintf("field-%d", i), strings.Repeat("x", i%90))
		p.RPush(ctx, "biglist", strings.Repeat("y", 1+i%100))
		p.ZAdd(ctx, "bigzset", redis.Z{Score: float64(i), Member: fmt.Sprintf("member-%d", i)})
		p.SAdd(ctx, "bigset", fmt.Sprintf("s-%d", i))
	}
	big := make([]byte, 64<<10)
	for i := range big {
		big[i] = byte(rnd.UintN(256))
	}
	p.Set(ctx, "big:random", big, 0)
	p.Set(ctx, "big:text", strings.Repeat("compressible text ", 5000), 0)
	if _, err := p.Exec(ctx); err != nil {
		t.Fatalf("fill cluster: %v", err)
	}
}

// KeysDigest lists every key of the given masters (replicas are skipped;
// db 0) with its type, its value read back by commands (sorted where the
// type has no order) and whether it expires, sorted, and returns the
// SHA-256 of that list and the number of keys: equal for two datasets with
// the same keys and values, whatever their shape, encodings or server
// versions (DEBUG DIGEST-VALUE is not: Redis 7.4 digests zsets otherwise).
func KeysDigest(t testing.TB, nodes ...*Redis) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var lines []string
	for _, n := range nodes {
		c := n.Client(t)
		repl, err := c.Info(ctx, "replication").Result()
		if err != nil {
			t.Fatalf("INFO replication on %s: %v", n.Addr, err)
		}
		if strings.Contains(repl, "role:slave") {
			continue // its master's keys are counted
		}
		iter := c.Scan(ctx, 0, "*", 1000).Iterator()
		for iter.Next(ctx) {
			k := iter.Val()
			v, err := valueOf(ctx, c, k)
			if err != nil {
				t.Fatalf("read %s on %s: %v", k, n.Addr, err)
			}
			ttl, err := c.PTTL(ctx, k).Result()
			if err != nil {
				t.Fatalf("PTTL %s on %s: %v", k, n.Addr, err)
			}
			lines = append(lines, fmt.Sprintf("%q %s expires=%v", k, v, ttl > 0))
		}
		if err := iter.Err(); err != nil {
			t.Fatalf("SCAN on %s: %v", n.Addr, err)
		}
	}
	slices.Sort(lines)
	h := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(h[:]), len(lines)
}

// valueOf reads key's value as text that does not depend on its encoding.
func valueOf(ctx context.Context, c *redis.Client, key string) (string, error) {
	typ, err := c.Type(ctx, key).Result()
	if err != nil {
		return "", err
	}
	var v any
	switch typ {
	case "string":
		v, err = c.Get(ctx, key).Result()
	case "list":
		v, err = c.LRange(ctx, key, 0, -1).Result()
	case "set":
		var m []string
		m, err = c.SMembers(ctx, key).Result()
		slices.Sort(m)
		v = m
	case "zset":
		v, err = c.ZRangeWithScores(ctx, key, 0, -1).Result()
	case "hash":
		var m map[string]string
		m, err = c.HGetAll(ctx, key).Result()
		v = fmt.Sprint(m) // fmt sorts map keys
	case "stream":
		var entries []redis.XMessage
		if entries, err = c.XRange(ctx, key, "-", "+").Result(); err == nil {
			var groups []redis.XInfoGroup
			groups, err = c.XInfoGroups(ctx, key).Result()
			v = fmt.Sprint(entries, groups)
		}
	default:
		return "", fmt.Errorf("type %s not compared", typ)
	}
	return typ + " " + fmt.Sprint(v), err
}
