package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/codec"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/daemon"
	"github.com/rdbak/rdbak/internal/kube"
	"github.com/rdbak/rdbak/storage"
)

// backupOnce takes one backup of t into repo. It is the code path of
// rdbak now and of every scheduled backup of rdbak daemon, so both make
// identical backups. It bounds the backup by t.Timeout and logs one line
// with the outcome: target, id, sizes, durations and the fork's
// copy-on-write cost, or the error. prog may be nil.
func backupOnce(ctx context.Context, log *slog.Logger, kf *kubeFlags, t *config.Target, repo *storage.Repo, comp codec.Settings, prog *backup.Progress) (daemon.Outcome, error) {
	if t.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.Timeout)
		defer cancel()
	}
	log = log.With("target", t.Name)
	conn, err := connect(ctx, kf, t)
	if err != nil {
		log.Error("backup failed", "error", err.Error())
		return daemon.Outcome{}, err
	}
	defer conn.close()
	log.Info("backup started", "source", conn.kind, "storage", repo.String())
	res, err := backup.Run(ctx, conn.source, repo, backup.Options{
		Target:      t.Name,
		Compression: comp,
		Version:     version,
		SourceKind:  conn.kind,
		Server:      conn.client,
		Progress:    prog,
	})
	if err != nil {
		log.Error("backup failed", "error", err.Error())
		record(ctx, log, conn, kube.ReasonBackupFailed, fmt.Sprintf("backup of %s failed: %v", t.Name, err), true)
		return daemon.Outcome{}, fmt.Errorf("backup of %s: %w", t.Name, err)
	}
	out := daemon.Outcome{Result: res, CowBytes: forkCost(ctx, conn.client, 100*time.Millisecond)}
	m := res.Manifest
	record(ctx, log, conn, kube.ReasonBackupSucceeded, fmt.Sprintf("backup %s of %s: %d keys, %d bytes RDB, %d bytes stored in %s",
		m.ID, t.Name, m.Keys(), m.Data.RawSize, m.Data.StoredSize, repo), false)
	log.Info("backup succeeded", "backup_id", m.ID, "raw_bytes", m.Data.RawSize, "stored_bytes", m.Data.StoredSize,
		"keys", m.Keys(), "snapshot_seconds", res.Snapshot.Seconds(), "stream_seconds", res.Stream.Seconds(),
		"commit_seconds", res.Commit.Seconds(), "cow_bytes", out.CowBytes)
	return out, nil
}

// record writes the outcome as a Kubernetes Event on the workload. It is
// best effort: the backup's own result is already decided and logged, and a
// missing "events create" permission must not turn a good backup into a
// failed one, so a failure to record is logged as a warning.
func record(ctx context.Context, log *slog.Logger, conn *connection, reason, msg string, warning bool) {
	if conn.events == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := conn.events.Record(ctx, reason, msg, warning); err != nil {
		log.Warn("could not record a Kubernetes event", "error", err.Error())
	}
}

// forkCost returns the copy-on-write peak Redis reported for its last RDB
// child, which wrote this snapshot (BGSAVE for the file source, the
// replication fork for the pull), or -1 when unknown. Redis records it when
// it reaps the child, a cron tick after the child exits, so it waits (up
// to ten polls) for no RDB child to be running.
func forkCost(ctx context.Context, srv backup.Server, poll time.Duration) int64 {
	for range 10 {
		info, err := srv.Info(ctx, "persistence")
		if err != nil {
			return -1
		}
		if info["rdb_bgsave_in_progress"] == "0" {
			n, err := strconv.ParseInt(info["rdb_last_cow_size"], 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
		select {
		case <-time.After(poll):
		case <-ctx.Done():
			return -1
		}
	}
	return -1
}
