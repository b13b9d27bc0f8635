package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/rdb"
	"github.com/rdbak/rdbak/internal/redis"
	"github.com/rdbak/rdbak/storage"
)

// SentinelOptions say how to reach a replication set through its
// Sentinels: the typed form of a target's sentinel block.
type SentinelOptions struct {
	Sentinels  []string // host:port
	MasterName string
	// SentinelUser and SentinelPassword authenticate to the Sentinels.
	SentinelUser, SentinelPassword string
	// User and Password authenticate to the data nodes.
	User, Password string
	// TLS, when set, is used for the Sentinels and the data nodes; its
	// ServerName, when empty, is each host dialled.
	TLS          *tls.Config
	PreferMaster bool
	MaxLag       int64 // bytes; 0: backup.DefaultMaxLag
	// Dial, when set, opens every connection (to Sentinels and data
	// nodes), given the address the Sentinels report: in Kubernetes, a
	// port-forward to the pod with that IP.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// SentinelOptionsOf turns a target's sentinel block into options, reading
// its passwords now.
func SentinelOptionsOf(t *config.Target) (SentinelOptions, error) {
	s := t.Sentinel
	addrs, useTLS, err := s.Endpoints()
	if err != nil {
		return SentinelOptions{}, UsageError{Err: fmt.Errorf("target %s: %w", t.Name, err)}
	}
	o := SentinelOptions{Sentinels: addrs, MasterName: s.MasterName, SentinelUser: s.Username, User: t.User(),
		PreferMaster: s.Prefer == "master", MaxLag: int64(s.MaxLagBytes)}
	if o.SentinelPassword, err = s.Password(t.Name); err != nil {
		return o, err
	}
	if o.Password, err = t.Password(); err != nil {
		return o, err
	}
	if useTLS {
		o.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return o, nil
}

// tlsFor returns o.TLS for a connection to addr, with ServerName set.
func (o SentinelOptions) tlsFor(addr string) *tls.Config {
	if o.TLS == nil {
		return nil
	}
	c := o.TLS.Clone()
	if c.ServerName == "" {
		c.ServerName, _, _ = net.SplitHostPort(addr)
	}
	return c
}

func (o SentinelOptions) node(addr string) *redis.Client {
	return redis.New(redis.Options{Addr: addr, Username: o.User, Password: o.Password, TLS: o.tlsFor(addr), Dial: o.Dial})
}

// replicaSet is a replication set as its Sentinels describe it, with a
// client of every Sentinel that answered. Close releases them.
type replicaSet struct {
	o         SentinelOptions
	sentinels []*redis.Sentinel
	agreed    int
	master    backup.Node
	replicas  []backup.Node
	log       *slog.Logger // steps of a restore; nil: none
	record    *freezeStore // where a restore records its freeze; nil: nowhere
}

func (s *replicaSet) Close() {
	for _, c := range s.sentinels {
		_ = c.Close()
	}
}

// askSentinels asks every Sentinel which node is the master and returns
// the one a quorum agrees on (backup.AgreeOnMaster), with the clients of
// the Sentinels that answered.
func askSentinels(ctx context.Context, o SentinelOptions) (master string, votes int, clients []*redis.Sentinel, err error) {
	answers := make([]backup.SentinelAnswer, len(o.Sentinels))
	for i, addr := range o.Sentinels {
		c := redis.NewSentinel(redis.Options{Addr: addr, Username: o.SentinelUser, Password: o.SentinelPassword, TLS: o.tlsFor(addr), Dial: o.Dial})
		a := backup.SentinelAnswer{Sentinel: addr}
		if a.Master, a.Err = c.MasterAddr(ctx, o.MasterName); a.Err == nil {
			var m redis.Instance
			if m, a.Err = c.Master(ctx, o.MasterName); a.Err == nil {
				a.Quorum = m.Quorum
			}
		}
		answers[i] = a
		if a.Err != nil {
			_ = c.Close()
			if errors.Is(a.Err, redis.ErrUnknownMaster) || errors.Is(a.Err, redis.ErrWrongPass) || errors.Is(a.Err, redis.ErrNoAuth) || errors.Is(a.Err, redis.ErrNoPerm) {
				// A configuration error, not a failover: say so at once.
				closeAll(clients)
				return "", 0, nil, UsageError{Err: fmt.Errorf("%w (check sentinel.masterName and the Sentinels' username and password)", a.Err)}
			}
			continue
		}
		clients = append(clients, c)
	}
	master, votes, err = backup.AgreeOnMaster(answers)
	if err != nil {
		closeAll(clients)
		return "", 0, nil, err
	}
	return master, votes, clients, nil
}

func closeAll(cs []*redis.Sentinel) {
	for _, c := range cs {
		_ = c.Close()
	}
}

// discover finds the set's master by Sentinel quorum, its replicas as the
// Sentinels list them, and asks each node for its own state: role, link,
// offset and replica-priority.
func discover(ctx context.Context, o SentinelOptions) (*replicaSet, error) {
	master, votes, clients, err := askSentinels(ctx, o)
	if err != nil {
		return nil, err
	}
	s := &replicaSet{o: o, sentinels: clients, agreed: votes, master: backup.Node{Addr: master}}
	var listed []redis.Instance
	for _, c := range clients {
		if a, err := c.MasterAddr(ctx, o.MasterName); err != nil || a != master {
			continue
		}
		if listed, err = c.Replicas(ctx, o.MasterName); err == nil {
			break
		}
	}
	mc := o.node(master)
	in, err := mc.Info(ctx, "replication")
	_ = mc.Close()
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("ask the master %s (named by %d Sentinels) for its role: %w", master, votes, err)
	}
	if !in.Replication.IsMaster() {
		s.Close()
		return nil, fmt.Errorf("%w: the Sentinels name %s as master, but it reports role %s: a failover is running; retry when it has finished",
			backup.ErrNoAgreement, master, in.Replication.Role)
	}
	s.master.Offset = in.Replication.MasterReplOffset
	for _, r := range listed {
		s.replicas = append(s.replicas, nodeState(ctx, o, r, master, s.master.Offset))
	}
	return s, nil
}

// nodeState asks replica r for its own view of its link and offset. A
// healthy replica behind the master's offset want is given catchUpWait to
// reach it (one just out of a full sync may not yet have the writes made
// during it); the offset it reaches is what the lag limit then judges.
func nodeState(ctx context.Context, o SentinelOptions, r redis.Instance, master string, want int64) backup.Node {
	n := backup.Node{Addr: r.Addr, Priority: r.Priority}
	for _, f := range []string{"s_down", "o_down", "disconnected"} {
		if r.Has(f) {
			n.Problem = "flagged " + f + " by the Sentinels"
			return n
		}
	}
	c := o.node(r.Addr)
	defer c.Close()
	in, err := c.Info(ctx, "replication")
	if err != nil {
		n.Problem = "unreachable: " + err.Error()
		return n
	}
	rep := in.Replication
	switch {
	case rep.IsMaster():
		n.Problem = "reports role master"
	case rep.SyncInProgress:
		n.Problem = "in a full sync from its master"
	case !sameNode(net.JoinHostPort(rep.MasterHost, rep.MasterPort), master):
		n.Problem = "replicates from " + net.JoinHostPort(rep.MasterHost, rep.MasterPort) + ", not the master " + master
	}
	n.LinkUp = rep.MasterLinkUp
	n.Offset = rep.MasterReplOffset
	if rep.SlavePriority >= 0 {
		n.Priority = rep.SlavePriority
	}
	if n.Problem == "" && n.LinkUp {
		if n.Offset, err = catchUp(ctx, c, n.Offset, want); err != nil && !errors.As(err, new(behindError)) {
			n.Problem = err.Error()
		}
	}
	return n
}

// sameNode reports whether a replica's master_host:port names the master
// the Sentinels report (ip:port). A replica given its master by host name
// (replica-announce-hostname setups) is compared by port only: rdbak does
// not resolve names it may not be able to reach.
func sameNode(replicaOf, master string) bool {
	h, p, _ := net.SplitHostPort(replicaOf)
	mh, mp, _ := net.SplitHostPort(master)
	if net.ParseIP(h) == nil {
		return p == mp
	}
	return h == mh && p == mp
}

// connectSentinel discovers the set of t, chooses the node to back up
// (backup.ChooseSource), logs the choice and why, and returns its
// connection with the topology the manifest records. After the stream it
// asks the Sentinels again, to record a failover that ran meanwhile.
func (a *App) connectSentinel(ctx context.Context, t *config.Target) (*Conn, error) {
	if t.Sentinel.Kubernetes != nil {
		o, k, err := a.kubeSentinelOptions(ctx, t)
		if err != nil {
			return nil, err
		}
		conn, err := a.connectSet(ctx, t.Name, o)
		if err != nil {
			k.Close()
			return nil, err
		}
		closeConn := conn.close
		conn.close = func() { closeConn(); k.Close() }
		if p := k.PodOf(conn.Topology.Chosen); p != nil {
			conn.Topology.ChosenPod = p.Namespace + "/" + p.Name
		}
		return conn, nil
	}
	o, err := SentinelOptionsOf(t)
	if err != nil {
		return nil, err
	}
	return a.connectSet(ctx, t.Name, o)
}

func (a *App) connectSet(ctx context.Context, target string, o SentinelOptions) (*Conn, error) {
	s, err := discover(ctx, o)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	c := backup.ChooseSource(s.master, s.replicas, backup.ChooseOptions{PreferMaster: o.PreferMaster, MaxLag: o.MaxLag})
	role := "replica"
	if c.Master {
		role = "master"
	}
	topo := &storage.Topology{MasterName: o.MasterName, Sentinels: o.Sentinels, Agreed: s.agreed,
		Master: s.master.Addr, Replicas: backup.Addrs(s.replicas), Chosen: c.Node.Addr, ChosenRole: role,
		Reason: c.Reason, Offset: c.Node.Offset, MasterOffset: s.master.Offset}
	log := a.Log.With("target", target)
	log.InfoContext(ctx, "backup source chosen", "node", c.Node.Addr, "role", role, "master", s.master.Addr, "reason", c.Reason)
	client := o.node(c.Node.Addr)
	pull := &redis.PullSource{Addr: c.Node.Addr, Username: o.User, Password: o.Password, TLS: o.tlsFor(c.Node.Addr), Dial: o.Dial}
	src := &setSource{Source: withForkCost{pull, "", client}, o: o, topo: topo, log: log}
	return &Conn{Source: src, Client: client, Kind: string(config.SourceReplication), Topology: topo,
		close: func() { _ = client.Close() }}, nil
}

// setSource streams from the chosen node of a set and, once the stream
// has verified, asks the Sentinels which node is master now.
type setSource struct {
	backup.Source
	o    SentinelOptions
	topo *storage.Topology
	log  *slog.Logger
}

func (s *setSource) Open(ctx context.Context) (*backup.Stream, error) {
	st, err := s.Source.Open(ctx)
	if err != nil {
		return nil, err
	}
	prev := st.Accept
	st.Accept = func(info rdb.Info) error {
		if prev != nil {
			if err := prev(info); err != nil {
				return err
			}
		}
		master, _, clients, err := askSentinels(ctx, s.o)
		closeAll(clients)
		switch {
		case err != nil:
			s.topo.MasterAfter = "unknown: " + err.Error()
		case master != s.topo.Master:
			s.topo.MasterAfter = master
		default:
			return nil
		}
		// The stream came whole from Chosen: a consistent point of that
		// node, whatever its role now. Keep it, and say what happened.
		s.log.WarnContext(ctx, "the Sentinels' master changed during the backup; the snapshot is a consistent point of the node it streamed from",
			"node", s.topo.Chosen, "master_before", s.topo.Master, "master_after", s.topo.MasterAfter)
		return nil
	}
	return st, nil
}

// AdhocSentinel is the target of the --sentinel and --master-name flags:
// the Sentinels (comma-separated host:port, redis:// or rediss://), the
// data nodes' password from passwordFile or $REDIS_PASSWORD, and the
// Sentinels' from sentinelPasswordFile or $SENTINEL_PASSWORD. name
// defaults to the master name.
func AdhocSentinel(name, sentinels, masterName, passwordFile, sentinelPasswordFile string) (*config.Target, error) {
	if masterName == "" {
		return nil, UsageError{Err: errors.New("--sentinel needs --master-name: the name the Sentinels monitor the master under")}
	}
	if sentinels == "" {
		return nil, UsageError{Err: errors.New("--master-name needs --sentinel host:26379[,host:26379...]")}
	}
	s := &config.SentinelTarget{MasterName: masterName, PasswordFile: sentinelPasswordFile}
	for _, a := range strings.Split(sentinels, ",") {
		if a = strings.TrimSpace(a); a != "" {
			s.Addresses = append(s.Addresses, a)
		}
	}
	if _, _, err := s.Endpoints(); err != nil {
		return nil, UsageError{Err: fmt.Errorf("--sentinel: %s", strings.Replace(err.Error(), "sentinel.addresses", "entry ", 1))}
	}
	if s.PasswordFile == "" && os.Getenv("SENTINEL_PASSWORD") != "" {
		s.PasswordEnv = "SENTINEL_PASSWORD"
	}
	t := &config.Target{Name: name, Sentinel: s, PasswordFile: passwordFile, Source: config.SourceReplication}
	if t.Name == "" {
		t.Name = strings.ToLower(masterName)
	}
	if err := storage.ValidateTarget(t.Name); err != nil {
		return nil, UsageError{Err: fmt.Errorf("--target: %w", err)}
	}
	if t.PasswordFile == "" && os.Getenv("REDIS_PASSWORD") != "" {
		t.PasswordEnv = "REDIS_PASSWORD"
	}
	return t, nil
}
