package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/rdbak/rdbak/storage"
)

// resolveBackup finds the backup ref names (latest, an id or a unique id
// prefix), or with a non-zero at the newest at or before at, and turns the
// storage errors into what the CLI reports: an ambiguous reference is a
// usage error, a damaged newest backup says which backup could be used
// instead.
func resolveBackup(ctx context.Context, repo *storage.Repo, target, ref string, at time.Time, o storage.ResolveOptions) (storage.Selection, error) {
	var (
		sel storage.Selection
		err error
	)
	if at.IsZero() {
		sel, err = repo.Resolve(ctx, target, ref, o)
	} else {
		sel, err = repo.AsOf(ctx, target, at, o)
	}
	var damaged *storage.DamagedError
	switch {
	case errors.Is(err, storage.ErrBadRef):
		return sel, usageError{Err: err}
	case errors.Is(err, storage.ErrAmbiguous):
		if !at.IsZero() && target == "" {
			return sel, usagef("--as-of needs --target: %w", err)
		}
		return sel, usageError{Err: err}
	case errors.As(err, &damaged):
		hint := "\nhint: 'rdbak list' shows every backup; delete or repair the damaged one"
		if fb := damaged.Fallback; fb != nil {
			hint = fmt.Sprintf("\nhint: the newest usable backup is %s/%s (created %s): name it by id to use that one",
				fb.Target, fb.ID, fb.Created.UTC().Format(time.RFC3339Nano))
		}
		return sel, fmt.Errorf("%w%s", err, hint)
	}
	return sel, err
}

// warnSkipped logs the damaged backups a --skip-damaged resolution passed
// over and the one it fell back to.
func warnSkipped(log *slog.Logger, sel storage.Selection) {
	if len(sel.Skipped) == 0 || sel.Manifest == nil {
		return
	}
	var names []string
	for _, p := range sel.Skipped {
		names = append(names, p.Target+"/"+p.ID)
		log.Warn("damaged backup skipped", "target", p.Target, "backup_id", p.ID, "key", p.Key, "error", p.Err.Error())
	}
	log.Warn("falling back to an older backup", "target", sel.Manifest.Target, "backup_id", sel.Manifest.ID,
		"created", sel.Manifest.Created.UTC().Format(time.RFC3339Nano), "skipped", strings.Join(names, ", "))
}
