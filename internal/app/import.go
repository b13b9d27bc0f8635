package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/rdb"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

// ImportOptions are rdbak import's flags besides the request's.
type ImportOptions struct {
	Created string // RFC 3339; "" for the RDB's own ctime
	Codec   string // "" for the config's, else zstd
	Level   string
	Encrypt EncryptFlags
}

// Import stores the RDB file path as a verified backup of --target, with
// the config's compression and encryption (or the flags'). A damaged file
// is restore.ErrVerify, and nothing is stored.
func (a *App) Import(ctx context.Context, r Request, path string, o ImportOptions) (*storage.Manifest, error) {
	if r.Target == "" {
		return nil, usagef("--target NAME is required: it names the backups in storage, as for rdbak now")
	}
	if err := storage.ValidateTarget(r.Target); err != nil {
		return nil, usagef("--target: %w", err)
	}
	var at time.Time
	if o.Created != "" {
		var err error
		if at, err = time.Parse(time.RFC3339, o.Created); err != nil {
			return nil, usagef("--created %q: use RFC 3339, e.g. 2026-11-22T03:00:00Z", o.Created)
		}
	}
	if st, err := os.Stat(path); err == nil && at.IsZero() && !st.Mode().IsRegular() && !st.IsDir() {
		// Without --created the file is read twice, first for its ctime.
		return nil, usagef("import %s: it is a pipe or a device, which can be read only once: give the time the RDB was made with --created, e.g. --created 2026-11-22T03:00:00Z", path)
	}
	var base config.Compression
	if r.Config != "" {
		f, err := r.LoadConfig()
		if err != nil {
			return nil, err
		}
		base = f.Compression
	}
	comp, err := OverrideCodec(codecOf(base), o.Codec, o.Level)
	if err != nil {
		return nil, err
	}
	enc, err := r.ImportRecipients(&o.Encrypt)
	if err != nil {
		return nil, err
	}
	repo, _, err := r.OpenRepo(ctx, true)
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	res, err := backup.Import(ctx, backup.LocalFiles{}, path, repo, backup.Options{
		Target: r.Target, Compression: comp, Version: a.Version, Created: at, Encrypt: enc,
	})
	log := a.Log.With("target", r.Target, "file", path)
	if err != nil {
		a.failed(ctx, log, "import failed", err)
		if errors.Is(err, backup.ErrCTime) {
			return nil, UsageError{Err: err}
		}
		if errors.Is(err, rdb.ErrCorrupt) || errors.Is(err, rdb.ErrUnsupportedVersion) {
			return nil, fmt.Errorf("%w: nothing was stored: %w", restore.ErrVerify, err) // exit 4: the file is damaged
		}
		return nil, err
	}
	m := res.Manifest
	log.Info("import succeeded", "backup_id", m.ID, "created", m.Created.UTC().Format(time.RFC3339),
		"raw_bytes", m.Data.RawSize, "stored_bytes", m.Data.StoredSize, "keys", m.Keys())
	return m, nil
}
