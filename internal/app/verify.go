package app

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/rdbak/rdbak/internal/crypt"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

// Verify downloads backup m and checks it completely against its manifest
// (stored size and SHA-256, decompression, the RDB's structure, CRC-64,
// size, SHA-256, key counts), writing nothing. An encrypted backup needs
// ids; counter (may be nil) sees the RDB's bytes.
func (a *App) Verify(ctx context.Context, repo *storage.Repo, m *storage.Manifest, ids *crypt.Identities, counter func(int)) (*restore.Report, error) {
	start := time.Now()
	rep, err := restore.Verify(ctx, repo, m, restore.FetchOptions{Counter: counter, Identities: ids})
	log := a.Log.With("target", m.Target, "backup_id", m.ID)
	if err != nil {
		a.failed(ctx, log, "verify failed", err)
		return nil, err
	}
	log.Info("verify succeeded", "raw_bytes", rep.RawSize, "keys", rep.RDB.KeysTotal(), "seconds", time.Since(start).Seconds())
	return rep, nil
}

// VerifyStored is Verify of an encrypted backup without an identity: it
// checks the stored object's size and SHA-256 only, and logs what it did
// not check.
func (a *App) VerifyStored(ctx context.Context, repo *storage.Repo, m *storage.Manifest) (*restore.Report, error) {
	log := a.Log.With("target", m.Target, "backup_id", m.ID)
	rep, err := restore.FetchStored(ctx, repo, m, nil)
	if err != nil {
		log.Error("verify failed", "error", err.Error())
		return nil, err
	}
	log.Warn("verify checked the stored object only: the backup is encrypted and no identity was given; pass --identity-file to check its content")
	return rep, nil
}

// RestoreToFile opens the backup rr names (OpenBackup) and restores it
// with RestoreFile. started is called with its manifest before the data
// flows and returns the counter of the RDB's bytes (it may return nil).
func (a *App) RestoreToFile(ctx context.Context, r Request, rr RestoreRequest, path string, stdout io.Writer, overwrite bool, started func(*storage.Manifest) func(int)) error {
	b, err := a.OpenBackup(ctx, r, rr)
	if err != nil {
		return err
	}
	defer b.Close()
	return a.RestoreFile(ctx, b.Repo, b.Manifest, path, stdout, overwrite, b.Identities, started(b.Manifest))
}

// RestoreFile restores backup m, verified, into the file path (replacing
// an existing one only with overwrite), or with path "-" streams it to
// stdout, verifying as it goes: then the bytes are good only if it
// returns nil.
func (a *App) RestoreFile(ctx context.Context, repo *storage.Repo, m *storage.Manifest, path string, stdout io.Writer, overwrite bool, ids *crypt.Identities, counter func(int)) error {
	var (
		rep *restore.Report
		err error
	)
	if path == "-" {
		rep, err = restoreToWriter(ctx, repo, m, stdout, counter, ids)
	} else {
		rep, err = restore.ToFile(ctx, repo, m, path, restore.FileOptions{Overwrite: overwrite, Counter: counter, Identities: ids})
	}
	log := a.Log.With("target", m.Target, "backup_id", m.ID, "path", path)
	if err != nil {
		a.failed(ctx, log, "restore failed", err)
		return err
	}
	for _, f := range rep.StaleTemps {
		log.Info("removed a temporary file left by an interrupted restore", "file", f)
	}
	log.Info("restore succeeded", "raw_bytes", rep.RawSize, "keys", rep.RDB.KeysTotal())
	return nil
}

// restoreToWriter streams backup m to w through a buffer.
func restoreToWriter(ctx context.Context, repo *storage.Repo, m *storage.Manifest, w io.Writer, counter func(int), ids *crypt.Identities) (*restore.Report, error) {
	bw := bufio.NewWriterSize(w, 256<<10)
	rep, err := restore.Fetch(ctx, repo, m, bw, restore.FetchOptions{Counter: counter, Identities: ids, SkipRawSHA256: true})
	if err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("restore to stdout: %w", err)
	}
	return rep, nil
}
