package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// MasterName is the name the Sentinels of a ReplicaSet monitor their master
// under.
const MasterName = "rdbakmaster"

// ReplicaSetOptions configures StartReplicaSet. The zero value is a master,
// two replicas and three Sentinels of redis-server on PATH, without auth.
type ReplicaSetOptions struct {
	Server Server
	// Password is requirepass and masterauth of the data nodes, and the
	// Sentinels' auth-pass for them.
	Password string
	// SentinelPassword is requirepass of the Sentinels (5.0.1+).
	SentinelPassword string
	// SentinelUser, with SentinelPassword, is an ACL user created on each
	// Sentinel (6.2+) with what a client needs: SENTINEL, PING, INFO, AUTH,
	// HELLO, CLIENT, SUBSCRIBE.
	SentinelUser string
	Replicas     int // 2 when 0
	Sentinels    int // 3 when 0; 0 Sentinels: NoSentinels
	NoSentinels  bool
	// DownAfter is down-after-milliseconds; 1 s when 0, so failover tests
	// see failovers quickly.
	DownAfter time.Duration
	// FailoverTimeout is failover-timeout; 10 s when 0.
	FailoverTimeout time.Duration
	// Config are extra redis.conf lines for every data node.
	Config []string
	// TLS, when set, gives every node and Sentinel a TLS port beside its
	// plain one, and makes them talk to each other over TLS
	// (tls-replication yes): the Sentinels then report TLS ports.
	TLS *TLSFiles
}

// ReplicaSet is a master with replicas, watched by Sentinels, all of one
// server build, owned by one test.
type ReplicaSet struct {
	Name string
	// TLSAddr maps each node's and Sentinel's plain address to its TLS
	// one, when the set runs TLS.
	TLSAddr   map[string]string
	Master    *Redis
	Replicas  []*Redis
	Sentinels []*Redis
	// SentinelPassword and SentinelUser authenticate to the Sentinels.
	SentinelPassword, SentinelUser string
}

// StartReplicaSet starts a master, its replicas and Sentinels monitoring
// it, and waits until every replica's link is up and every Sentinel knows
// every replica and the other Sentinels.
func StartReplicaSet(t testing.TB, o ReplicaSetOptions) *ReplicaSet {
	t.Helper()
	if o.Server.Path == "" {
		o.Server = DefaultServer(t)
	}
	if o.Replicas == 0 {
		o.Replicas = 2
	}
	if o.Sentinels == 0 && !o.NoSentinels {
		o.Sentinels = 3
	}
	if o.DownAfter == 0 {
		o.DownAfter = time.Second
	}
	if o.FailoverTimeout == 0 {
		o.FailoverTimeout = 10 * time.Second
	}
	// The nodes keep Redis's default 5 s wait before a diskless full
	// sync (StartRedis sets 0): the failover and restore tests here were
	// proven with it, and their time is Sentinel's periods anyway.
	conf := append([]string{"repl-diskless-sync-delay 5"}, o.Config...)
	if o.Password != "" {
		conf = append(conf, "masterauth "+o.Password)
	}
	s := &ReplicaSet{Name: MasterName, SentinelPassword: o.SentinelPassword, SentinelUser: o.SentinelUser, TLSAddr: map[string]string{}}
	start := func(extra ...string) *Redis {
		c := append(append([]string{}, conf...), extra...)
		tlsPort := 0
		if o.TLS != nil {
			tlsPort = FreePort(t)
			c = append(c, o.TLS.Config(tlsPort)...)
		}
		r := StartRedis(t, RedisOptions{Server: o.Server, Password: o.Password, Config: c})
		if o.TLS != nil {
			s.TLSAddr[r.Addr] = Addr(tlsPort)
		}
		return r
	}
	s.Master = start()
	masterPort := s.Master.Port
	if o.TLS != nil {
		masterPort = portOf(s.TLSAddr[s.Master.Addr])
	}
	for range o.Replicas {
		s.Replicas = append(s.Replicas, start("replicaof 127.0.0.1 "+strconv.Itoa(masterPort)))
	}
	for range o.Sentinels {
		s.Sentinels = append(s.Sentinels, startSentinel(t, o, masterPort, s.TLSAddr))
	}
	s.WaitSettled(t, s.Master)
	return s
}

// startSentinel starts one Sentinel monitoring the master on masterPort.
func startSentinel(t testing.TB, o ReplicaSetOptions, masterPort int, tlsAddr map[string]string) *Redis {
	t.Helper()
	var lastErr error
	for range 5 {
		r := &Redis{Dir: t.TempDir(), Server: o.Server, Version: o.Server.Version, Password: o.SentinelPassword}
		r.Port = FreePort(t)
		r.Addr = Addr(r.Port)
		r.LogFile = filepath.Join(r.Dir, "sentinel.log")
		lines := []string{
			"port " + strconv.Itoa(r.Port),
			"bind 127.0.0.1",
			"protected-mode no",
			"daemonize no",
			"dir " + r.Dir,
			"logfile " + r.LogFile,
			fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2", MasterName, masterPort),
			fmt.Sprintf("sentinel down-after-milliseconds %s %d", MasterName, o.DownAfter.Milliseconds()),
			fmt.Sprintf("sentinel failover-timeout %s %d", MasterName, o.FailoverTimeout.Milliseconds()),
		}
		if o.Password != "" {
			lines = append(lines, fmt.Sprintf("sentinel auth-pass %s %s", MasterName, o.Password))
		}
		if o.SentinelPassword != "" {
			lines = append(lines, "requirepass "+o.SentinelPassword)
			if o.SentinelUser != "" {
				// Sentinels talk to each other as the default user with
				// requirepass; the ACL user is for clients.
				lines = append(lines, "user "+o.SentinelUser+" on allchannels >"+o.SentinelPassword+
					" -@all +sentinel +ping +info +auth +hello +client +subscribe +psubscribe +unsubscribe +punsubscribe")
			}
		}
		tlsPort := 0
		if o.TLS != nil {
			tlsPort = FreePort(t)
			lines = append(lines, o.TLS.Config(tlsPort)...)
		}
		r.conf = filepath.Join(r.Dir, "sentinel.conf")
		if err := os.WriteFile(r.conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatalf("write sentinel.conf: %v", err)
		}
		r.bin, r.args = o.Server.Path, []string{"--sentinel"}
		if err := r.start(); err != nil {
			t.Fatalf("start sentinel: %v", err)
		}
		if lastErr = r.waitPing(10 * time.Second); lastErr == nil {
			t.Cleanup(r.Stop)
			if o.TLS != nil {
				tlsAddr[r.Addr] = Addr(tlsPort)
			}
			return r
		}
		r.Stop()
		lastErr = fmt.Errorf("%w\nlog:\n%s", lastErr, r.Log())
	}
	t.Fatalf("%s sentinel did not start: %v", o.Server.Name, lastErr)
	return nil
}

// SentinelClient returns a client for Sentinel i, closed when the test
// ends.
func (s *ReplicaSet) SentinelClient(t testing.TB, i int) *redis.Client {
	t.Helper()
	c := s.sentinel(i)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (s *ReplicaSet) sentinel(i int) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.Sentinels[i].Addr, Username: s.SentinelUser, Password: s.SentinelPassword})
}

// SentinelAddrs lists the Sentinels' addresses.
func (s *ReplicaSet) SentinelAddrs() []string {
	var out []string
	for _, r := range s.Sentinels {
		out = append(out, r.Addr)
	}
	return out
}

// Nodes lists the data nodes, the one started as master first.
func (s *ReplicaSet) Nodes() []*Redis {
	return append([]*Redis{s.Master}, s.Replicas...)
}

// Node returns the data node at addr (host:port), or fails t.
func (s *ReplicaSet) Node(t testing.TB, addr string) *Redis {
	t.Helper()
	addr = s.plain(addr)
	for _, n := range s.Nodes() {
		if n.Addr == addr {
			return n
		}
	}
	t.Fatalf("no node of the set is at %s", addr)
	return nil
}

// CurrentMaster returns the node every Sentinel names as master, after
// waiting until they agree.
func (s *ReplicaSet) CurrentMaster(t testing.TB) *Redis {
	t.Helper()
	var addr string
	s.waitFor(t, time.Minute, "the Sentinels to agree on one master", func(ctx context.Context) (bool, error) {
		seen := map[string]bool{}
		for i := range s.Sentinels {
			c := s.sentinel(i)
			a, err := c.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.Name).StringSlice()
			_ = c.Close()
			if err != nil || len(a) != 2 {
				return false, nil
			}
			addr = s.plain(a[0] + ":" + a[1])
			seen[addr] = true
		}
		return len(seen) == 1, nil
	})
	return s.Node(t, addr)
}

// WaitSettled waits until master is a master, every other node replicates
// from it with its link up, and every Sentinel names it as master and
// knows every replica (not down) and every other Sentinel.
func (s *ReplicaSet) WaitSettled(t testing.TB, master *Redis) {
	t.Helper()
	s.waitFor(t, 2*time.Minute, "the set to settle on master "+master.Addr, func(ctx context.Context) (bool, error) {
		for _, n := range s.Nodes() {
			c := redis.NewClient(&redis.Options{Addr: n.Addr, Password: n.Password})
			in, err := c.Info(ctx, "replication").Result()
			_ = c.Close()
			if err != nil {
				return false, nil
			}
			if n == master {
				if !strings.Contains(in, "role:master") {
					return false, nil
				}
				continue
			}
			if !strings.Contains(in, "master_port:"+strconv.Itoa(portOf(s.announced(master)))+"\r") || !strings.Contains(in, "master_link_status:up") {
				return false, nil
			}
		}
		for i := range s.Sentinels {
			c := s.sentinel(i)
			defer c.Close()
			a, err := c.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.Name).StringSlice()
			if err != nil || len(a) != 2 || a[1] != strconv.Itoa(portOf(s.announced(master))) {
				return false, nil
			}
			reps, err := c.Do(ctx, "SENTINEL", "REPLICAS", s.Name).Slice()
			if err != nil || len(reps) != len(s.Nodes())-1 {
				return false, nil
			}
			for _, r := range reps {
				if f := fieldOf(r, "flags"); f != "slave" {
					return false, nil
				}
			}
			sen, err := c.Do(ctx, "SENTINEL", "SENTINELS", s.Name).Slice()
			if err != nil || len(sen) != len(s.Sentinels)-1 {
				return false, nil
			}
		}
		return true, nil
	})
}

// announced is the address the set knows r by: its TLS one in a TLS set.
func (s *ReplicaSet) announced(r *Redis) string {
	if a, ok := s.TLSAddr[r.Addr]; ok {
		return a
	}
	return r.Addr
}

// plain maps an address the set reports (a TLS one in a TLS set) to the
// node's plain address.
func (s *ReplicaSet) plain(addr string) string {
	for p, a := range s.TLSAddr {
		if a == addr {
			return p
		}
	}
	return addr
}

func portOf(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

func itoa(n int) string { return strconv.Itoa(n) }

// fieldOf reads one field of a SENTINEL REPLICAS entry (a flat list in
// RESP2, a map in RESP3).
func fieldOf(entry any, name string) string {
	switch e := entry.(type) {
	case []any:
		for i := 0; i+1 < len(e); i += 2 {
			if k, _ := e[i].(string); k == name {
				v, _ := e[i+1].(string)
				return v
			}
		}
	case map[any]any:
		v, _ := e[name].(string)
		return v
	}
	return ""
}

// waitFor polls cond every 100 ms until it holds, an error, or timeout.
func (s *ReplicaSet) waitFor(t testing.TB, timeout time.Duration, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		ok, err := cond(ctx)
		if err != nil {
			t.Fatalf("wait for %s: %v", what, err)
		}
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("wait for %s: timed out after %s\n%s", what, timeout, s.logs())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// logs returns the tail of every process's log, for a failure message.
func (s *ReplicaSet) logs() string {
	var b strings.Builder
	for _, r := range append(s.Nodes(), s.Sentinels...) {
		l := r.Log()
		if len(l) > 3000 {
			l = l[len(l)-3000:]
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", r.Addr, l)
	}
	return b.String()
}
