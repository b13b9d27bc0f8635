package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/codec"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/storage"
)

// backupOnce takes one backup of t into repo. It is the code path of
// rdbak now and of every scheduled backup of rdbak daemon, so both make
// identical backups. It bounds the backup by t.Timeout and logs one line
// with the outcome: target, id, sizes and durations, or the error. prog
// may be nil.
func backupOnce(ctx context.Context, log *slog.Logger, kf *kubeFlags, t *config.Target, repo *storage.Repo, comp codec.Settings, prog *backup.Progress) (*backup.Result, error) {
	if t.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.Timeout)
		defer cancel()
	}
	log = log.With("target", t.Name)
	conn, err := connect(ctx, kf, t)
	if err != nil {
		log.Error("backup failed", "error", err.Error())
		return nil, err
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
		return nil, fmt.Errorf("backup of %s: %w", t.Name, err)
	}
	m := res.Manifest
	log.Info("backup succeeded", "backup_id", m.ID, "raw_bytes", m.Data.RawSize, "stored_bytes", m.Data.StoredSize,
		"keys", m.Keys(), "snapshot_seconds", res.Snapshot.Seconds(), "stream_seconds", res.Stream.Seconds(),
		"commit_seconds", res.Commit.Seconds())
	return res, nil
}
