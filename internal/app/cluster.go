package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/cluster"
	"github.com/rdbak/rdbak/internal/codec"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/crypt"
	"github.com/rdbak/rdbak/internal/kube"
	"github.com/rdbak/rdbak/internal/redis"
	"github.com/rdbak/rdbak/storage"
)

// nodeConn is one node of a Redis Cluster: a client for questions and its
// replication stream.
type nodeConn struct {
	addr   string
	client *redis.Client
	source backup.Source
}

func (n *nodeConn) Close() { _ = n.client.Close() }

// nodeDialer reaches cluster nodes by their announced address with one
// set of credentials; TLS verifies each node's own host.
func nodeDialer(user, password string, tlsConf *tls.Config) func(addr string) *nodeConn {
	return func(addr string) *nodeConn {
		var tc *tls.Config
		if tlsConf != nil {
			tc = tlsConf.Clone()
			if host, _, err := net.SplitHostPort(addr); err == nil && tlsConf.ServerName == "" {
				tc.ServerName = host
			}
		}
		c := redis.New(redis.Options{Addr: addr, Username: user, Password: password, TLS: tc})
		return &nodeConn{addr: addr, client: c,
			source: withForkCost{&redis.PullSource{Addr: addr, Username: user, Password: password, TLS: tc}, "", c}}
	}
}

// clusterInfo is what a backup of a cluster node needs to know first.
type clusterInfo struct {
	topo   cluster.Topology
	myself string // the seed node's id
}

// readCluster reads the topology through the seed node and refuses a
// cluster that is not fit to back up: cluster_state not ok, a slot not
// served or served twice, a failing master. Errors wrap
// cluster.ErrNotReady for those.
func readCluster(ctx context.Context, seed *redis.Client) (*clusterInfo, error) {
	state, err := seed.ClusterState(ctx)
	if err != nil {
		return nil, err
	}
	if state != "ok" {
		return nil, fmt.Errorf("%w: cluster_state is %s: wait for the cluster to recover (CLUSTER INFO), then try again", cluster.ErrNotReady, state)
	}
	topo, err := seed.ClusterTopology(ctx)
	if err != nil {
		return nil, err
	}
	if err := topo.Check(); err != nil {
		return nil, err
	}
	_, _, myself, err := seed.ClusterNodes(ctx)
	if err != nil {
		return nil, err
	}
	return &clusterInfo{topo: topo, myself: myself}, nil
}

// checkMasters asks every master for the slots it migrates or imports
// (only a node's own CLUSTER NODES line shows them) and its cluster_state,
// and refuses while any slot moves, naming the slots.
func checkMasters(ctx context.Context, topo cluster.Topology, dial func(string) *nodeConn) error {
	var migs []cluster.Migration
	for _, s := range topo.Shards {
		n := dial(s.Master.Addr)
		state, err := n.client.ClusterState(ctx)
		var m []cluster.Migration
		if err == nil {
			_, m, _, err = n.client.ClusterNodes(ctx)
		}
		n.Close()
		if err != nil {
			return fmt.Errorf("ask master %s (%s) for its slots: %w", s.Master.ID, s.Master.Addr, err)
		}
		if state != "ok" {
			return fmt.Errorf("%w: master %s (%s) reports cluster_state %s", cluster.ErrNotReady, s.Master.ID, s.Master.Addr, state)
		}
		migs = append(migs, m...)
	}
	return cluster.CheckMigrations(migs)
}

// probeReplicas asks each replica the cluster does not call failed for
// its own state, which is more current than the cluster's gossip (CLUSTER
// SHARDS calls a replica "loading" until a ping carries its offset): it
// marks those that cannot give a current snapshot (loading, master link
// down, a sync in progress, unreachable, behind its master) and fills in
// the replication offsets, which CLUSTER NODES does not give.
func probeReplicas(ctx context.Context, topo *cluster.Topology, dial func(string) *nodeConn) {
	for i := range topo.Shards {
		// What the master had written when asked: a replica that does
		// not reach it soon would give a snapshot without those writes.
		// -1 when the master does not answer (checkMasters has just
		// asked it for its slots, and said so if it could not).
		master := int64(-1)
		m := dial(topo.Shards[i].Master.Addr)
		if in, err := m.client.Info(ctx, "replication"); err == nil {
			master = in.Replication.MasterReplOffset
		}
		m.Close()
		for j := range topo.Shards[i].Replicas {
			r := &topo.Shards[i].Replicas[j]
			if r.Health == cluster.HealthFail {
				continue
			}
			n := dial(r.Addr)
			in, err := n.client.Info(ctx, "replication", "persistence")
			r.Health = cluster.HealthOnline
			switch {
			case err != nil:
				r.Stale = "does not answer: " + err.Error()
			case in.Persistence.Loading:
				r.Health = cluster.HealthLoading
			case in.Replication.IsMaster():
				r.Stale = "is a master now"
			case !in.Replication.MasterLinkUp:
				r.Stale = "has its master link down"
			case in.Replication.SyncInProgress:
				r.Stale = "is syncing with its master"
			default:
				var err error
				if r.Offset, err = catchUp(ctx, n.client, in.Replication.MasterReplOffset, master); err != nil {
					r.Stale = err.Error()
				}
			}
			n.Close()
		}
	}
}

// catchUpWait is how long a replica may take to reach its master's
// offset. One that has just finished a full sync reports its link up
// before it is sent the writes made meanwhile (Valkey 8.0 sends them on
// the replica's first ACK, up to a second later), and would give a
// snapshot without them: without any, right after the sync.
const catchUpWait = 3 * time.Second

// behindError is a replica that did not reach its master's offset within
// catchUpWait.
type behindError struct{ offset, want int64 }

func (e behindError) Error() string {
	return fmt.Sprintf("is %d bytes behind its master after %s (offset %d of %d)", e.want-e.offset, catchUpWait, e.offset, e.want)
}

// catchUp waits until the replica c, at offset, reaches the master's
// offset want. It returns the offset reached and, if that is short of
// want, why: a behindError, or c not answering.
func catchUp(ctx context.Context, c *redis.Client, offset, want int64) (int64, error) {
	if offset >= want {
		return offset, nil
	}
	wait, cancel := context.WithTimeout(ctx, catchUpWait)
	defer cancel()
	// INFO runs under ctx, not wait: an answer cut off by the wait's end
	// would read as the replica not answering.
	err := kube.Poll(wait, 50*time.Millisecond, "the replica to reach its master's offset", func(context.Context) (bool, error) {
		in, err := c.Info(ctx, "replication")
		if err != nil {
			return false, fmt.Errorf("does not answer: %w", err)
		}
		offset = in.Replication.MasterReplOffset
		return offset >= want, nil
	})
	if err != nil && ctx.Err() == nil && wait.Err() != nil {
		return offset, behindError{offset, want}
	}
	return offset, err
}

// sameSlots reports whether two readings of a cluster assign the same slot
// ranges to the same shards (the masters may have failed over).
func sameSlots(a, b cluster.Topology) bool {
	return slices.EqualFunc(a.Shards, b.Shards, func(x, y cluster.Shard) bool { return slices.Equal(x.Slots, y.Slots) })
}

// shardRecord describes shard s of topo for a manifest.
func shardRecord(s cluster.Shard, from cluster.Node, reason string) storage.Shard {
	rec := storage.Shard{Master: s.Master.ID, MasterAddr: s.Master.Addr, Node: from.ID, NodeAddr: from.Addr, Role: from.Role, Reason: reason}
	for _, r := range s.Slots {
		rec.Slots = append(rec.Slots, [2]int{r.Start, r.End})
	}
	return rec
}

// singleNode is the manifest's cluster block of a backup of the node with
// id alone: partial, with that node's shard.
func singleNode(ci *clusterInfo, id string) *storage.Cluster {
	c := &storage.Cluster{Partial: true, Shards: []storage.Shard{}}
	if i := ci.topo.ShardOf(id); i >= 0 {
		s := ci.topo.Shards[i]
		node := s.Master
		for _, r := range s.Replicas {
			if r.ID == id {
				node = r
			}
		}
		c.Shards = append(c.Shards, shardRecord(s, node, "the target's node, taken alone (singleNode)"))
	}
	return c
}

// setJob is one backup set of a cluster.
type setJob struct {
	t       *config.Target
	repo    *storage.Repo
	comp    codec.Settings
	enc     *crypt.Recipients
	prog    *backup.Progress
	log     *slog.Logger
	dial    func(string) *nodeConn
	ci      *clusterInfo
	seed    string
	version string
	now     func() time.Time
	sleep   func(ctx context.Context, d time.Duration) error
}

// backupSet takes one backup set of the cluster: one RDB per shard, from
// the node cluster.Choose picks (or each master, with prefer: master), at
// most concurrency at once, their snapshot starts at least stagger apart;
// each verified as a one-node backup; then the set manifest, last. If any
// shard fails, or the slots moved meanwhile, every object of the set is
// removed and nothing is committed.
func backupSet(ctx context.Context, j *setJob) (*backup.Result, error) {
	if err := checkMasters(ctx, j.ci.topo, j.dial); err != nil {
		return nil, err
	}
	topo := j.ci.topo
	probeReplicas(ctx, &topo, j.dial)
	records := make([]storage.Shard, len(topo.Shards))
	nodes := make([]cluster.Node, len(topo.Shards))
	for i, s := range topo.Shards {
		node, reason := cluster.Choose(s)
		if j.t.Cluster.Prefer == "master" {
			node, reason = s.Master, "master (prefer: master)"
		}
		nodes[i], records[i] = node, shardRecord(s, node, reason)
		j.log.InfoContext(ctx, "cluster shard", "shard", i, "slots", cluster.FormatRanges(s.Slots), "node", node.ID, "addr", node.Addr, "role", node.Role, "reason", reason)
	}
	start := j.now()
	id := storage.NewID(start)
	if j.prog != nil {
		j.prog.Expected.Store(-1)
	}
	results, err := j.runShards(ctx, id, nodes)
	cleanup := func(err error) (*backup.Result, error) {
		ctx := context.WithoutCancel(ctx)
		return nil, errors.Join(err, j.repo.Delete(ctx, &storage.Manifest{Target: j.t.Name, ID: id}))
	}
	if err != nil {
		return cleanup(err)
	}
	// The slots must not have moved while the shards streamed: a key
	// moved from a shard not yet snapshotted to one already done would be
	// in neither.
	seed := j.dial(j.seed)
	after, err := seed.client.ClusterTopology(ctx)
	seed.Close()
	if err == nil && !sameSlots(topo, after) {
		err = fmt.Errorf("%w: the slots moved while the shards streamed (resharding or a slot migration): back up again", cluster.ErrNotReady)
	}
	if err == nil {
		err = checkMasters(ctx, after, j.dial)
	}
	if err != nil {
		return cleanup(err)
	}
	m := setManifest(j.t.Name, id, start, j.seed, j.version, records, results)
	m.Finished = j.now().UTC()
	commitStart := j.now()
	if err := j.repo.Commit(ctx, m); err != nil {
		return cleanup(err)
	}
	res := &backup.Result{Manifest: m, Stream: commitStart.Sub(start), Commit: j.now().Sub(commitStart), CowBytes: 0}
	for _, r := range results {
		res.Snapshot = max(res.Snapshot, r.Snapshot)
		res.Warnings = append(res.Warnings, r.Warnings...)
		if r.CowBytes < 0 || res.CowBytes < 0 {
			res.CowBytes = -1
		} else {
			res.CowBytes += r.CowBytes
		}
	}
	if j.prog != nil {
		j.prog.Expected.Store(m.Data.RawSize)
	}
	return res, nil
}

// runShards backs up each shard from nodes[i] into set id, bounded and
// staggered; the first failure cancels the others.
func (j *setJob) runShards(ctx context.Context, id string, nodes []cluster.Node) ([]*backup.Result, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	conc := j.t.Cluster.Concurrency
	if conc <= 0 {
		conc = config.DefaultClusterConcurrency
	}
	stagger := j.t.Cluster.Stagger
	if stagger <= 0 {
		stagger = config.DefaultClusterStagger
	}
	results := make([]*backup.Result, len(nodes))
	errs := make([]error, len(nodes))
	progs := make([]*backup.Progress, len(nodes))
	for i := range progs {
		progs[i] = &backup.Progress{}
	}
	stopSum := j.sumProgress(progs)
	defer stopSum()
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	var lastStart time.Time
	for i, node := range nodes {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		if !lastStart.IsZero() {
			if err := j.sleep(ctx, stagger-j.now().Sub(lastStart)); err != nil {
				<-sem
				break
			}
		}
		lastStart = j.now()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			n := j.dial(node.Addr)
			defer n.Close()
			log := j.log.With("shard", i, "node", node.Addr)
			res, err := backup.Run(ctx, n.source, j.repo, backup.Options{
				Target: j.t.Name, Compression: j.comp, Encrypt: j.enc, Version: j.version, SourceKind: string(config.SourceReplication),
				Server: n.client, Progress: progs[i], Log: log, Part: &backup.Part{ID: id, Shard: i},
			})
			if err != nil {
				errs[i] = fmt.Errorf("shard %d (slots %s) from %s %s: %w", i, cluster.FormatRanges(nodesSlots(j.ci.topo, i)), node.Role, node.Addr, err)
				cancel(errs[i])
				return
			}
			results[i] = res
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return results, nil
}

// sumProgress keeps j.prog at the sum of the shards' progress (bytes
// read and stored; the expected total only once every shard announced
// one) until the returned func is called.
func (j *setJob) sumProgress(progs []*backup.Progress) func() {
	if j.prog == nil {
		return func() {}
	}
	sum := func() {
		var raw, stored, expected int64
		phase := ""
		for _, p := range progs {
			switch ph := p.Phase(); {
			case ph == "stream" || phase == "stream":
				phase = "stream"
			case ph == "snapshot" || phase == "snapshot":
				phase = "snapshot"
			case ph != "":
				phase = ph
			}
			raw += p.Raw.Load()
			stored += p.Stored.Load()
			if e := p.Expected.Load(); e > 0 && expected >= 0 {
				expected += e
			} else {
				expected = -1
			}
		}
		j.prog.Raw.Store(raw)
		j.prog.Stored.Store(stored)
		j.prog.Expected.Store(expected)
		if phase != "" {
			j.prog.SetPhase(phase)
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				sum()
			case <-done:
				sum()
				return
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func nodesSlots(t cluster.Topology, i int) []cluster.Range { return t.Shards[i].Slots }

// setManifest is the manifest of a backup set: each shard's own record,
// object and checks in cluster.shards, and totals in data and rdb so that
// list, retention and metrics read it as one backup.
func setManifest(target, id string, created time.Time, seed, version string, records []storage.Shard, results []*backup.Result) *storage.Manifest {
	m := &storage.Manifest{
		Format: storage.ManifestFormatSet, ID: id, Target: target, Created: created.UTC(),
		Source:  storage.Source{Kind: string(config.SourceReplication), Origin: fmt.Sprintf("cluster of %d shards via %s", len(records), seed)},
		Rdbak:   storage.Program{Version: version},
		Cluster: &storage.Cluster{Shards: records},
		RDB:     storage.RDB{DBs: []storage.DB{}, ChecksumVerified: true, Structure: storage.StructureVerified},
	}
	dbs := map[int]*storage.DB{}
	var structures []string
	for i, r := range results {
		sm := r.Manifest
		s := &m.Cluster.Shards[i]
		s.Source, s.Redis, s.RDB, s.Data, s.Keys = sm.Source, sm.Redis, sm.RDB, sm.Data, sm.Keys()
		if i == 0 {
			m.Redis = storage.Redis{Flavor: sm.Redis.Flavor, Version: sm.Redis.Version, RedisCompat: sm.Redis.RedisCompat}
			m.RDB.Magic = sm.RDB.Magic
			m.Data.Compression, m.Data.Encryption = sm.Data.Compression, sm.Data.Encryption
		}
		m.RDB.Version = max(m.RDB.Version, sm.RDB.Version)
		m.RDB.ChecksumVerified = m.RDB.ChecksumVerified && sm.RDB.ChecksumVerified
		if st := sm.RDB.StructureOf(); st != storage.StructureVerified {
			structures = append(structures, fmt.Sprintf("shard %d %s", i, st))
		}
		m.RDB.Functions = max(m.RDB.Functions, sm.RDB.Functions)
		for _, db := range sm.RDB.DBs {
			d := dbs[db.Index]
			if d == nil {
				d = &storage.DB{Index: db.Index}
				dbs[db.Index] = d
			}
			d.Keys += db.Keys
			d.Expires += db.Expires
		}
		m.Data.RawSize += sm.Data.RawSize
		m.Data.StoredSize += sm.Data.StoredSize
	}
	if len(structures) > 0 {
		m.RDB.Structure = "not-parsed: " + strings.Join(structures, "; ")
	}
	for _, d := range dbs {
		m.RDB.DBs = append(m.RDB.DBs, *d)
	}
	slices.SortFunc(m.RDB.DBs, func(a, b storage.DB) int { return a.Index - b.Index })
	return m
}
