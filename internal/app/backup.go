package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/codec"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/crypt"
	"github.com/rdbak/rdbak/internal/kube"
	"github.com/rdbak/rdbak/internal/rdb"
	"github.com/rdbak/rdbak/storage"
)

// pollInterval is how often ForkCost asks Redis whether it has reaped the
// snapshot's child.
const pollInterval = 100 * time.Millisecond

// Compression returns the config file's compression settings, checked.
func Compression(c config.Compression) (codec.Settings, error) {
	s, err := codec.Settings{Codec: string(c.Codec), Level: c.Level, Concurrency: c.Concurrency}.Normalize()
	if err != nil {
		return s, fmt.Errorf("compression: %w", err)
	}
	return s, nil
}

// Backup takes one backup of t into repo. It is the code path of rdbak now
// and of every scheduled backup of rdbak daemon, so both make identical
// backups. It bounds the backup by t.Timeout, records the outcome as a
// Kubernetes Event for targets in Kubernetes, and logs one line with the
// outcome: target, id, sizes, durations and the fork's copy-on-write cost,
// or the error. prog may be nil.
//
// A failure is also sent to the target's notify webhook.
func (a *App) Backup(ctx context.Context, t *config.Target, repo *storage.Repo, comp codec.Settings, prog *backup.Progress) (*backup.Result, error) {
	res, err := a.backup(ctx, t, repo, comp, prog)
	if err != nil {
		a.notifier().Notify(ctx, a.Log.With("target", t.Name), t, EventBackupFailed, "", err)
	}
	return res, err
}

func (a *App) backup(ctx context.Context, t *config.Target, repo *storage.Repo, comp codec.Settings, prog *backup.Progress) (*backup.Result, error) {
	if t.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = withTimeout(ctx, t.Timeout)
		defer cancel()
	}
	log := a.Log.With("target", t.Name)
	enc, err := Recipients(t)
	if err != nil {
		log.Error("backup failed", "error", err.Error())
		return nil, err
	}
	conn, err := a.Connect(ctx, t)
	if err != nil {
		err = timedOut(ctx, err)
		a.failed(ctx, log, "backup failed", err)
		return nil, err
	}
	defer conn.Close()
	if t.Sentinel != nil {
		warnFrozen(ctx, log, newFreezeStore(repo, t.Name))
	}
	log.Info("backup started", "source", conn.Kind, "storage", repo.String(), "encrypted", enc != nil)
	res, err := a.backupConn(ctx, t, conn, repo, comp, enc, prog, log)
	if err != nil {
		err = timedOut(ctx, err)
		a.failed(ctx, log, "backup failed", err)
		record(ctx, log, conn.events, kube.ReasonBackupFailed, fmt.Sprintf("backup of %s failed: %v", t.Name, err), true)
		return nil, fmt.Errorf("backup of %s: %w", t.Name, err)
	}
	m := res.Manifest
	for _, w := range res.Warnings {
		log.Warn(w, "backup_id", m.ID)
	}
	record(ctx, log, conn.events, kube.ReasonBackupSucceeded, fmt.Sprintf("backup %s of %s: %d keys, %d bytes RDB, %d bytes stored in %s",
		m.ID, t.Name, m.Keys(), m.Data.RawSize, m.Data.StoredSize, repo), false)
	log.Info("backup succeeded", "backup_id", m.ID, "raw_bytes", m.Data.RawSize, "stored_bytes", m.Data.StoredSize,
		"keys", m.Keys(), "snapshot_seconds", res.Snapshot.Seconds(), "stream_seconds", res.Stream.Seconds(),
		"commit_seconds", res.Commit.Seconds(), "cow_bytes", res.CowBytes)
	if st := m.RDB.StructureOf(); st != storage.StructureVerified {
		// A success, so no failure alert fires: say it, and what to do.
		log.Warn("backup kept on its CRC-64 alone: its RDB structure is beyond this rdbak; upgrade rdbak to have it checked",
			"backup_id", m.ID, "server", m.Redis.String(), "rdb_magic", m.RDB.Magic, "rdb_version", m.RDB.Version,
			"structure", st, "rdbak_version", a.Version, "rdbak_parses", rdb.Parses)
	}
	return res, nil
}

// sentinelMode is INFO server's redis_mode (Valkey: server_mode) of a Sentinel.
const sentinelMode = "sentinel"

// timeoutError is the cause of a backup's context ending at its target's
// timeout: "context deadline exceeded" alone names neither the timeout
// nor what to change.
type timeoutError struct{ d time.Duration }

func (e timeoutError) Error() string {
	return fmt.Sprintf("gave up at the target's timeout of %s (timeout, --timeout): raise it for a large dataset or a slow Redis", e.d)
}

// withTimeout bounds a backup by its target's timeout d.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, d, timeoutError{d})
}

// timedOut adds to err that the target's timeout ended ctx, when it did.
func timedOut(ctx context.Context, err error) error {
	var te timeoutError
	if err != nil && errors.As(context.Cause(ctx), &te) {
		return fmt.Errorf("%w: %w", err, te)
	}
	return err
}

// backupConn backs up what conn reached: a standalone server, one cluster
// node alone (cluster.singleNode, recorded as partial), or, for a cluster
// node, the whole cluster as a backup set.
func (a *App) backupConn(ctx context.Context, t *config.Target, conn *Conn, repo *storage.Repo, comp codec.Settings, enc *crypt.Recipients, prog *backup.Progress, log *slog.Logger) (*backup.Result, error) {
	o := backup.Options{
		Target:      t.Name,
		Compression: comp,
		Encrypt:     enc,
		Version:     a.Version,
		SourceKind:  conn.Kind,
		Server:      conn.Client,
		Progress:    prog,
		Log:         log,
		Waiting:     waitingFor(ctx, conn.Client, conn.Kind, prog != nil),
		Topology:    conn.Topology,
	}
	in, err := conn.Client.Info(ctx, "server", "cluster")
	if err != nil {
		return nil, err
	}
	if in.Server.Mode == sentinelMode {
		return nil, UsageError{Err: fmt.Errorf("target %s: %s is a Redis Sentinel, which holds no data: back up the master it monitors with --sentinel %s --master-name NAME (a target's sentinel block), or name a Redis server",
			t.Name, conn.Client.Addr(), conn.Client.Addr())}
	}
	if !in.Cluster.Enabled {
		return backup.Run(ctx, conn.Source, repo, o)
	}
	ci, err := readCluster(ctx, conn.Client)
	if err != nil {
		return nil, err
	}
	if t.Cluster.SingleNode {
		o.Cluster = singleNode(ci, ci.myself)
		log.Warn("backing up one cluster node alone (singleNode): the backup is partial, it holds only this node's slots", "node", ci.myself)
		return backup.Run(ctx, conn.Source, repo, o)
	}
	switch {
	case conn.Kind == string(config.SourceFile):
		return nil, UsageError{Err: fmt.Errorf("target %s is a Redis Cluster node: a cluster is backed up shard by shard over replication; set source: replication (or --source replication), or back up this node alone with cluster.singleNode (--single-node)", t.Name)}
	case conn.node == nil:
		return nil, UsageError{Err: fmt.Errorf("target %s is a Redis Cluster node, and the other nodes' announced addresses are not reachable through a port-forward: run rdbak inside the Kubernetes cluster (access: pod-ip), or back up this node alone with cluster.singleNode (--single-node)", t.Name)}
	}
	addr := conn.Client.Addr()
	log.Info("target is a Redis Cluster node: backing up the whole cluster", "shards", len(ci.topo.Shards))
	return backupSet(ctx, &setJob{t: t, repo: repo, comp: comp, enc: enc, prog: prog, log: log, dial: conn.node, ci: ci, seed: addr,
		version: a.Version, now: time.Now, sleep: sleepCtx})
}

// sleepCtx waits d, or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// configGetter reads one CONFIG GET parameter (backup.Server has it).
type configGetter interface {
	ConfigGet(ctx context.Context, name string) (string, error)
}

// waitingFor says what Redis does before a snapshot of kind streams, for
// the progress line: for replication, the diskless sync delay Redis waits
// for more replicas (repl-diskless-sync-delay) or its BGSAVE to disk. ""
// (the generic reason) when nobody shows progress, or CONFIG is not
// allowed.
func waitingFor(ctx context.Context, srv configGetter, kind string, shown bool) string {
	if !shown || kind != string(config.SourceReplication) || srv == nil {
		return ""
	}
	diskless, err := srv.ConfigGet(ctx, "repl-diskless-sync")
	if err != nil {
		return ""
	}
	if diskless != "yes" {
		return "replication snapshot (BGSAVE/fork to disk, repl-diskless-sync no)"
	}
	delay, err := srv.ConfigGet(ctx, "repl-diskless-sync-delay")
	if err != nil || delay == "" || delay == "0" {
		return "replication snapshot (fork)"
	}
	return "replication snapshot (repl-diskless-sync-delay " + delay + " s, then fork)"
}

// ScheduledBackup is the daemon's backup of one target (daemon.BackupFunc):
// Backup with the compression of the config in force.
func (a *App) ScheduledBackup(ctx context.Context, cfg *config.File, t *config.Target, repo *storage.Repo) (*backup.Result, error) {
	comp, err := Compression(cfg.Compression)
	if err != nil {
		return nil, err
	}
	return a.Backup(ctx, t, repo, comp, nil)
}

// eventRecorder records an outcome on the Kubernetes workload.
type eventRecorder interface {
	Record(ctx context.Context, reason, message string, warning bool) error
}

// record writes the outcome as a Kubernetes Event on the workload (r nil:
// not in Kubernetes). It is best effort: the backup's own result is already
// decided and logged, and a missing "events create" permission must not
// turn a good backup into a failed one, so a failure to record is logged as
// a warning.
func record(ctx context.Context, log *slog.Logger, r eventRecorder, reason, msg string, warning bool) {
	if r == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := r.Record(ctx, reason, msg, warning); err != nil {
		log.Warn("could not record a Kubernetes event", "error", err.Error())
	}
}

// ForkCost returns the copy-on-write peak Redis reported for its last RDB
// child, or -1 when unknown. Redis records it when it reaps the child, a
// cron tick after the child exits, so it waits (up to ten polls) for no RDB
// child to be running.
func ForkCost(ctx context.Context, srv backup.Server, poll time.Duration) int64 {
	for range 10 {
		in, err := srv.Info(ctx, "persistence")
		if err != nil {
			return -1
		}
		if !in.Persistence.BGSaveInProgress {
			return in.Persistence.LastCowSize
		}
		select {
		case <-time.After(poll):
		case <-ctx.Done():
			return -1
		}
	}
	return -1
}
