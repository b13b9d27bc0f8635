package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/rdbak/rdbak/cluster"
	"github.com/rdbak/rdbak/internal/crypt"
	"github.com/rdbak/rdbak/internal/kube"
	"github.com/rdbak/rdbak/internal/redis"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

// noFailoverKey is the setting that keeps a cluster replica from failing
// over its master (Redis 5+, Valkey).
const noFailoverKey = "cluster-replica-no-failover"

// reverter is a rollout that can take back an installed file before Start
// (kube.InPlace): a cluster restore reverts every shard installed so far
// when one fails, so that no master loads new data beside old ones.
type reverter interface {
	Revert(ctx context.Context, in restore.Install) error
}

// rollbacker is a rollout that can take back a restore after Start
// (kube.InPlace): the previous file back, and Redis restarted on it.
type rollbacker interface {
	Rollback(ctx context.Context, in restore.Install) error
}

// clusterShard is one master of a cluster restore: its rollout and what
// it installs.
type clusterShard struct {
	plan    restore.ClusterShard
	part    *storage.Manifest
	rollout restore.Rollout
	install restore.Install
	// save persists the master's data before its saves go off, so that
	// .pre-restore holds it; nil for none.
	save func(ctx context.Context) error
}

// clusterJob restores a backup set into a Redis Cluster of the same shape:
// every shard's verified RDB onto the master that serves its slots, with
// failover frozen, then the checks of restore.ClusterSteps.
type clusterJob struct {
	repo *storage.Repo
	m    *storage.Manifest
	plan *restore.ClusterPlan
	ids  *crypt.Identities
	// dial reaches a node by the address the cluster announces; the
	// caller closes the client.
	dial func(addr string) *redis.Client
	// rollouts gives each plan shard's rollout and install, built when
	// the job runs.
	rollouts func(ctx context.Context) ([]clusterShard, error)
	log      *slog.Logger
	// dbfilename is the masters' dbfilename, for the result.
	dbfilename string
	poll       time.Duration
	timeout    time.Duration // the wait for the replicas and cluster_state; syncTimeout when 0
}

// readClusterPlan reads the cluster through the node at seed and maps the
// set's shards onto its masters (restore.MapCluster). A cluster not ok, or
// of another shape, is an error naming what differs.
func readClusterPlan(ctx context.Context, seed *redis.Client, m *storage.Manifest) (*restore.ClusterPlan, error) {
	in, err := seed.Info(ctx, "cluster")
	if err != nil {
		return nil, err
	}
	if !in.Cluster.Enabled {
		return nil, fmt.Errorf("%w: backup %s is a cluster backup set of %d shards and %s is not a cluster node: restore it by key replay with --replay-to URL",
			restore.ErrRefused, m.ID, len(m.Cluster.Shards), seed.Addr())
	}
	ci, err := readCluster(ctx, seed)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", restore.ErrRefused, err)
	}
	return restore.MapCluster(m, ci.topo)
}

// run carries the restore out. Until every master's file is installed,
// any failure puts every previous file back: the cluster keeps its data.
func (j *clusterJob) run(ctx context.Context) (err error) {
	parts := j.m.Parts()
	j.log.InfoContext(ctx, "restore step", "step", "verify every shard")
	for _, s := range j.plan.Shards {
		if _, err := restore.Fetch(ctx, j.repo, parts[s.Shard], io.Discard, restore.FetchOptions{Identities: j.ids, SkipRawSHA256: true}); err != nil {
			return fmt.Errorf("verify shard-%d (%s): %w", s.Shard, s.Object, err)
		}
	}
	if err := j.stillMapped(ctx); err != nil {
		return err
	}
	shards, err := j.rollouts(ctx)
	if err != nil {
		return err
	}
	j.log.InfoContext(ctx, "restore step", "step", "freeze failover")
	frozen, err := j.freeze(ctx)
	defer func() {
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), thawTimeout)
		defer cancel()
		j.log.InfoContext(ctx, "restore step", "step", "put back "+noFailoverKey)
		err = errors.Join(err, j.thaw(tctx, frozen))
	}()
	if err != nil {
		return err
	}
	if err := j.installAll(ctx, shards); err != nil {
		return err
	}
	var started []string
	for i, s := range shards {
		j.log.InfoContext(ctx, "restore step", "step", "restart master on the restored file", "shard", s.plan.Shard, "master", s.plan.MasterAddr)
		if err := s.rollout.Start(ctx); err != nil {
			err = fmt.Errorf("restart master %s (shard-%d) on the restored file (its previous data is kept as %s%s): %w; restarted on restored data before it: %s "+
				"(each keeps its previous data as %s%s; deploy/runbooks/restore-redis-cluster.md says how to roll back)",
				s.plan.MasterAddr, s.plan.Shard, s.install.DBFilename, restore.PreRestoreSuffix, err, listOrNone(started), s.install.DBFilename, restore.PreRestoreSuffix)
			// The masters not restarted yet still run on their old data:
			// give them their previous file back; restart the others on
			// theirs, so that the whole cluster keeps its old data.
			rerr := errors.Join(j.revert(ctx, shards[i+1:]), j.rollback(ctx, shards[:i+1]))
			if rerr != nil {
				return errors.Join(err, rerr)
			}
			return errors.Join(err, errNothingRestored)
		}
		started = append(started, s.plan.MasterAddr)
	}
	return j.check(ctx, shards)
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// stillMapped re-reads the cluster: the masters must serve the slots the
// plan says (a failover or resharding since makes the plan out of date).
func (j *clusterJob) stillMapped(ctx context.Context) error {
	var errs []error
	for _, s := range j.plan.Shards {
		c := j.dial(s.MasterAddr)
		now, err := readClusterPlan(ctx, c, j.m)
		c.Close()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for i, ns := range now.Shards {
			if ns.Master != j.plan.Shards[i].Master || ns.Shard != j.plan.Shards[i].Shard {
				return fmt.Errorf("the plan is out of date, plan again: shard-%d is now on master %s (%s), the plan says %s",
					ns.Shard, ns.Master, ns.MasterAddr, j.plan.Shards[i].Master)
			}
		}
		return nil
	}
	return fmt.Errorf("no master of the plan answers: %w", errors.Join(errs...))
}

// installAll stops saves on every master and installs its shard; if one
// fails, every master installed so far gets its previous file back.
func (j *clusterJob) installAll(ctx context.Context, shards []clusterShard) error {
	parts := j.m.Parts()
	for i, s := range shards {
		j.log.InfoContext(ctx, "restore step", "step", "install shard", "shard", s.plan.Shard, "master", s.plan.MasterAddr)
		var err error
		if s.save != nil {
			err = s.save(ctx)
		}
		if err == nil {
			err = s.rollout.Stop(ctx)
		}
		if err == nil {
			err = installOne(ctx, j.repo, parts[s.plan.Shard], s, j.ids)
		}
		if err != nil {
			err = fmt.Errorf("install shard-%d on master %s: %w", s.plan.Shard, s.plan.MasterAddr, err)
			if rerr := j.revert(ctx, shards[:i+1]); rerr != nil {
				return errors.Join(err, rerr)
			}
			return errors.Join(err, errNothingRestored)
		}
	}
	return nil
}

// installOne stages the verified part through the rollout and swaps it in.
func installOne(ctx context.Context, repo *storage.Repo, part *storage.Manifest, s clusterShard, ids *crypt.Identities) error {
	pr, pw := io.Pipe()
	fetched := make(chan error, 1)
	go func() {
		_, err := restore.Fetch(ctx, repo, part, pw, restore.FetchOptions{Identities: ids, SkipRawSHA256: true})
		pw.CloseWithError(err)
		fetched <- err
	}()
	err := s.rollout.Stage(ctx, pr, s.install)
	pr.Close()
	if ferr := <-fetched; ferr != nil && !errors.Is(ferr, io.ErrClosedPipe) {
		err = errors.Join(ferr, err)
	}
	if err != nil {
		return err
	}
	_, err = s.rollout.Commit(ctx, s.install)
	return err
}

// errNothingRestored ends the error of a restore that was taken back on
// every master.
var errNothingRestored = errors.New("every master has its previous data back: nothing was restored")

// revert puts every shard's previous file back and gives back its saves
// (the masters still run on their old data), on a fresh context so that
// Ctrl-C still does it.
func (j *clusterJob) revert(ctx context.Context, shards []clusterShard) error {
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), restore.UndoTimeout)
	defer cancel()
	var errs []error
	for _, s := range shards {
		j.log.InfoContext(ctx, "restore step", "step", "put the previous file back", "shard", s.plan.Shard, "master", s.plan.MasterAddr)
		var err error
		if rv, ok := s.rollout.(reverter); ok {
			err = rv.Revert(uctx, s.install)
		} else {
			err = s.rollout.Undo(uctx)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("put back the previous data of master %s (shard-%d): %w", s.plan.MasterAddr, s.plan.Shard, err))
		}
	}
	return errors.Join(errs...)
}

// rollback restarts each master of shards on its previous file (failover
// is still frozen), on a fresh context so that Ctrl-C still does it.
func (j *clusterJob) rollback(ctx context.Context, shards []clusterShard) error {
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), restore.UndoTimeout)
	defer cancel()
	var errs []error
	for _, s := range shards {
		j.log.InfoContext(ctx, "restore step", "step", "roll back: restart master on its previous file", "shard", s.plan.Shard, "master", s.plan.MasterAddr)
		rb, ok := s.rollout.(rollbacker)
		if !ok {
			errs = append(errs, fmt.Errorf("master %s (shard-%d) runs on restored data: put %s%s back by hand", s.plan.MasterAddr, s.plan.Shard, s.install.DBFilename, restore.PreRestoreSuffix))
			continue
		}
		if err := rb.Rollback(uctx, s.install); err != nil {
			errs = append(errs, fmt.Errorf("roll back master %s (shard-%d) to its previous data: %w", s.plan.MasterAddr, s.plan.Shard, err))
		}
	}
	return errors.Join(errs...)
}

// frozenNode is a replica whose cluster-replica-no-failover a restore set,
// and the value to put back.
type frozenNode struct{ addr, value string }

// freeze sets cluster-replica-no-failover yes on every replica of the
// plan, so that none is promoted while its master restarts on the
// restored file (it would keep the old data, and the restored master would
// then resync from it). It returns what to put back, also on failure.
func (j *clusterJob) freeze(ctx context.Context) ([]frozenNode, error) {
	var frozen []frozenNode
	for _, s := range j.plan.Shards {
		for _, addr := range s.Replicas {
			c := j.dial(addr)
			v, err := c.ConfigGet(ctx, noFailoverKey)
			if err == nil {
				err = c.ConfigSet(ctx, noFailoverKey, "yes")
				frozen = append(frozen, frozenNode{addr, v})
			}
			c.Close()
			if err != nil {
				return frozen, fmt.Errorf("freeze failover: set %s yes on replica %s (shard-%d): %w", noFailoverKey, addr, s.Shard, err)
			}
		}
	}
	return frozen, nil
}

// thaw puts back each replica's cluster-replica-no-failover; an error
// says what to set by hand.
func (j *clusterJob) thaw(ctx context.Context, frozen []frozenNode) error {
	var errs []error
	for _, f := range frozen {
		c := j.dial(f.addr)
		if err := c.ConfigSet(ctx, noFailoverKey, f.value); err != nil {
			errs = append(errs, fmt.Errorf("put back %s %s on replica %s (run CONFIG SET %s %s on it by hand): %w", noFailoverKey, f.value, f.addr, noFailoverKey, f.value, err))
		}
		c.Close()
	}
	return errors.Join(errs...)
}

// check waits until each master has loaded its shard (key counts against
// the manifest), every replica has resynced from its restored master and
// every master reports cluster_state ok, then checks that every key is in
// a slot its master serves.
func (j *clusterJob) check(ctx context.Context, shards []clusterShard) error {
	parts := j.m.Parts()
	for _, s := range shards {
		j.log.InfoContext(ctx, "restore step", "step", "check the loaded keys", "shard", s.plan.Shard, "master", s.plan.MasterAddr)
		c := j.dial(s.plan.MasterAddr)
		err := CheckRestored(ctx, c, parts[s.plan.Shard], j.poll)
		c.Close()
		if err != nil {
			return fmt.Errorf("check master %s (shard-%d): %w", s.plan.MasterAddr, s.plan.Shard, err)
		}
	}
	j.log.InfoContext(ctx, "restore step", "step", "wait for the replicas to resync and cluster_state ok")
	timeout := j.timeout
	if timeout <= 0 {
		timeout = syncTimeout
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var waiting []string
	err := kube.Poll(wctx, j.poll, "every replica to resync and every master to report cluster_state ok", func(ctx context.Context) (bool, error) {
		waiting = j.notSettled(ctx)
		return len(waiting) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("%w: %s", err, strings.Join(waiting, "; "))
	}
	var states []restore.ClusterNodeState
	for _, s := range j.plan.Shards {
		st, err := j.nodeState(ctx, s)
		if err != nil {
			return err
		}
		states = append(states, st)
	}
	return restore.CheckCluster(j.plan, states)
}

// notSettled lists what is not yet as it should be after the restarts.
func (j *clusterJob) notSettled(ctx context.Context) []string {
	var waiting []string
	for _, s := range j.plan.Shards {
		c := j.dial(s.MasterAddr)
		state, err := c.ClusterState(ctx)
		master := memberOf(ctx, c, s.MasterAddr)
		c.Close()
		switch {
		case err != nil:
			waiting = append(waiting, "master "+s.MasterAddr+": "+err.Error())
		case state != "ok":
			waiting = append(waiting, "master "+s.MasterAddr+": cluster_state "+state)
		}
		var reps []restore.SetMember
		for _, addr := range s.Replicas {
			rc := j.dial(addr)
			reps = append(reps, memberOf(ctx, rc, addr))
			rc.Close()
		}
		if _, w := restore.InSync(master, reps); len(w) > 0 {
			waiting = append(waiting, w...)
		}
	}
	return waiting
}

// nodeState asks the master of s what restore.CheckCluster compares.
func (j *clusterJob) nodeState(ctx context.Context, s restore.ClusterShard) (restore.ClusterNodeState, error) {
	st := restore.ClusterNodeState{Shard: s.Shard, Addr: s.MasterAddr}
	c := j.dial(s.MasterAddr)
	defer c.Close()
	var err error
	if st.State, err = c.ClusterState(ctx); err != nil {
		return st, err
	}
	in, err := c.Info(ctx, "keyspace")
	if err != nil {
		return st, err
	}
	st.Keys = in.DBKeys()[0]
	ranges, err := parseRanges(s.Slots)
	if err != nil {
		return st, err
	}
	st.InSlots, err = c.KeysInSlots(ctx, ranges)
	return st, err
}

// parseRanges reads cluster.FormatRanges' form back.
func parseRanges(s string) ([]cluster.Range, error) {
	var out []cluster.Range
	for _, tok := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(tok, "-")
		start, err := strconv.Atoi(a)
		end := start
		if err == nil && isRange {
			end, err = strconv.Atoi(b)
		}
		if err != nil || start < 0 || end < start || end >= cluster.Slots {
			return nil, fmt.Errorf("bad slot range %q in %q", tok, s)
		}
		out = append(out, cluster.Range{Start: start, End: end})
	}
	return out, nil
}
